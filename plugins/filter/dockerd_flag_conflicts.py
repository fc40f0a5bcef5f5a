# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: dockerd_flag_conflicts
short_description: The daemon.json keys that dockerd's command line also sets
version_added: 0.1.0
description:
  - dockerd refuses to start when a setting is both a flag and in daemon.json. Returns
    C(key (flag)) for each key of O(keys) that one of dockerd's flags sets.
  - Used by the P(auraspeak.ops.docker_host#role) role before it writes daemon.json.
options:
  _input:
    description: dockerd's command line, without the program name.
    type: list
    elements: str
    required: true
  keys:
    description: The daemon.json keys to be written.
    type: list
    elements: str
    required: true
  key_flags:
    description: The flags that set each key, where they are not C(--<key>).
    type: dict
    default: {}
author:
  - auraspeak.ops contributors (@auraspeak)
"""

EXAMPLES = r"""
- name: "['hosts (-H=unix:///run/docker.sock)']"
  ansible.builtin.debug:
    msg: >-
      {{ ['-H=unix:///run/docker.sock']
         | auraspeak.ops.dockerd_flag_conflicts(['hosts'], {'hosts': ['-H', '--host']}) }}
"""

RETURN = r"""
_value:
  description: One C(key (flag)) per conflict, in the order of O(keys).
  type: list
  elements: str
"""

from ansible_collections.auraspeak.ops.plugins.module_utils._host.dockerd_settings import flag_conflicts


def dockerd_flag_conflicts(flags, keys, key_flags=None):
    return flag_conflicts(list(keys), list(flags), key_flags or {})


class FilterModule:
    def filters(self):
        return {'dockerd_flag_conflicts': dockerd_flag_conflicts}
