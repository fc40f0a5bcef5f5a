# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: project_name
short_description: Whether a string is a valid project name
version_added: 0.1.0
description:
  - A Compose project name, lowercase letters, digits, C(_) and C(-), starting with a letter or a digit,
    at most 128 characters. It also names the project's directory under the state directory.
  - The collection's modules check the same rule (module_utils C(_common/names.py)).
options:
  _input:
    description: The name to check.
    type: str
    required: true
author:
  - auraspeak.ops contributors (@auraspeak)
"""

EXAMPLES = r"""
- name: Refuse a bad name before anything changes
  ansible.builtin.assert:
    that: app_project is auraspeak.ops.project_name
"""

RETURN = r"""
_value:
  description: Whether the name follows the rule.
  type: bool
"""

from ansible_collections.auraspeak.ops.plugins.module_utils._common.names import is_project


class TestModule:
    def tests(self):
        return {'project_name': is_project}
