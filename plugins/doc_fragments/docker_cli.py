# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The option and requirement of modules that also run `docker compose` or `docker buildx`, which have
    # no engine API. Used together with the auraspeak.ops.engine fragment (docker_host).
    DOCUMENTATION = r"""
options:
  docker_cli:
    description:
      - Path to the C(docker) CLI, for C(docker compose) and C(docker buildx). By default the one found on E(PATH).
      - Modules of the action group C(auraspeak.ops.docker) that do not run the CLI accept it and leave it unused,
        so one C(module_defaults) entry for the group serves every module in it.
    type: path
requirements:
  - The docker CLI, with the compose and buildx plugins, for the modules that run them.
"""
