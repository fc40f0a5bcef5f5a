# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: dockerd_not_in_effect
short_description: The dockerd settings the running engine does not have
version_added: 0.1.0
description:
  - Compares what the running engine runs with against the settings wanted, key by key, as JSON
    (V(true) and V(1) differ in daemon.json).
  - C(live-restore) and C(log-driver) come from C(docker info); C(no-new-privileges), C(userland-proxy)
    and C(log-opts) from dockerd's command line, else from the file the engine read (C(docker info)
    does not report them), and are V(unknown) when that file changed after the engine started.
  - Used by the P(auraspeak.ops.docker_host#role) role.
options:
  _input:
    description: dockerd's command line, without the program name.
    type: list
    elements: str
    required: true
  wanted:
    description: The settings wanted, by daemon.json key.
    type: dict
    required: true
  keys:
    description: The keys compared.
    type: list
    elements: str
    required: true
  info:
    description: The output of C(docker info) as a mapping; empty when it failed.
    type: dict
    default: {}
  file_settings:
    description: The content of the file the running engine read.
    type: dict
    default: {}
  file_source:
    description: How to name that file in the result's C(source).
    type: str
    default: daemon.json
  stale:
    description: That file changed after the engine started.
    type: bool
    default: false
author:
  - auraspeak.ops contributors (@auraspeak)
"""

EXAMPLES = r"""
- name: Settings the engine does not run with
  ansible.builtin.debug:
    msg: >-
      {{ ['--live-restore'] | auraspeak.ops.dockerd_not_in_effect({'live-restore': true}, ['live-restore'],
         info={'ServerVersion': '20.10.24', 'LiveRestoreEnabled': false}) }}
"""

RETURN = r"""
_value:
  description: For each key not in effect, C(wanted), C(running) (the value, or V(unknown)) and C(source).
  type: dict
"""

from ansible_collections.auraspeak.ops.plugins.module_utils._host.dockerd_settings import (
    not_in_effect,
    running_settings,
)


def dockerd_not_in_effect(flags, wanted, keys, info=None, file_settings=None, file_source='daemon.json', stale=False):
    running = running_settings(list(flags), info or {}, file_settings or {}, file_source, bool(stale))
    return not_in_effect(running, wanted, keys)


class FilterModule:
    def filters(self):
        return {'dockerd_not_in_effect': dockerd_not_in_effect}
