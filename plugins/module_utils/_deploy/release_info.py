# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. The release_info module's one call: read a project's release
# ledger (ledger.py) and answer with its current, previous and recent releases.

from __future__ import annotations

from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.ledger import (
    DEFAULT_STATE_DIR,
    LEDGER_NAME,
    LedgerError,
    ReleaseLedger,
    current,
    history,
    previous,
    project_file,
)


def ledger_path(params):
    """The ledger path from the module options path, or state_dir and project."""
    if params.get('path'):
        return params['path']
    return project_file(params.get('state_dir') or DEFAULT_STATE_DIR, params['project'], LEDGER_NAME)


def release_info(params):
    """Result of the release_info module: returns (failed, result). Reads only."""
    try:
        path = ledger_path(params)
    except ValueError as exc:
        return True, {'msg': str(exc), 'changed': False}
    limit = params.get('limit')
    if limit is not None and limit < 0:
        return True, {
            'msg': 'limit %d is negative: set limit to 0 or more (the history length)' % limit,
            'changed': False,
        }
    ledger = ReleaseLedger(path)
    result = {'changed': False, 'path': ledger.path, 'exists': ledger.exists()}
    try:
        data = ledger.read()
    except LedgerError as exc:
        result['msg'] = str(exc)
        return True, result
    result.update(
        project=data.get('project', ledger.project),
        current=current(data),
        previous=previous(data),
        history=history(data, limit),
    )
    return False, result
