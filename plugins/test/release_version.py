# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: release_version
short_description: Whether a string is a valid release version
version_added: 0.1.0
description:
  - An image tag, the rule of the OCI distribution specification. Letters, digits, C(_), C(.) and C(-),
    not starting with C(.) or C(-), at most 128 characters.
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
    that: app_version | string is auraspeak.ops.release_version
"""

RETURN = r"""
_value:
  description: Whether the name follows the rule.
  type: bool
"""

from ansible_collections.auraspeak.ops.plugins.module_utils._common.names import is_version


class TestModule:
    def tests(self):
        return {'release_version': is_version}
