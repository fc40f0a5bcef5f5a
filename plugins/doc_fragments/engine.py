# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The option and requirement of modules that talk to the engine's API (through the Docker SDK for Python).
    DOCUMENTATION = r"""
options:
  docker_host:
    description:
      - Engine to talk to, as in E(DOCKER_HOST) (for example V(unix:///var/run/docker.sock) or V(ssh://user@host)).
      - If not set, the E(DOCKER_HOST) environment variable of the managed host is used, and without it the
        default socket.
      - The engine API client and, in modules that run it, the docker CLI both use it; E(DOCKER_TLS_VERIFY) and
        E(DOCKER_CERT_PATH) apply to both.
    type: str
requirements:
  - A reachable Docker Engine (API 1.41 / Engine 20.10 or newer).
  - Docker SDK for Python 5.0 or newer (the C(docker) package; Debian C(python3-docker)) in the Python that runs the
    module. The collection's docker_host role installs it.
"""
