# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Descriptions of the attributes every module of the collection declares;
    # each module states its own support and details.
    DOCUMENTATION = r"""
attributes:
  check_mode:
    description: Can run in check mode and predict whether it would change something, without changing it.
  diff_mode:
    description: Returns details on what it changed (or would change in check mode) when run with C(--diff).
  idempotent:
    description: Running it again with the same arguments changes nothing and reports no change.
"""
