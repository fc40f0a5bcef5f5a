# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: json_changes
short_description: The keys whose value differs between two JSON objects
version_added: 0.1.0
description:
  - Compares two mappings key by key as JSON text (V(true) and V(1) differ, as they do in a JSON file)
    and returns, for each key that differs, its value C(before) (absent for a new key) and C(after)
    (absent for a removed key).
  - Used by the P(auraspeak.ops.docker_host#role) role for the diff of daemon.json.
options:
  _input:
    description: The object before.
    type: dict
    required: true
  after:
    description: The object after.
    type: dict
    required: true
author:
  - auraspeak.ops contributors (@auraspeak)
"""

EXAMPLES = r"""
- name: "{'debug': {'after': true}}"
  ansible.builtin.debug:
    msg: "{{ {'live-restore': true} | auraspeak.ops.json_changes({'live-restore': true, 'debug': true}) }}"
"""

RETURN = r"""
_value:
  description: C(before) and C(after) of each key that changed, by key.
  type: dict
"""

from ansible_collections.auraspeak.ops.plugins.module_utils._host.dockerd_settings import changes


def json_changes(before, after):
    return changes(before, after)


class FilterModule:
    def filters(self):
        return {'json_changes': json_changes}
