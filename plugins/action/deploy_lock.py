# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Controller side of auraspeak.ops.deploy_lock.

Runs instead of the module, on the controller, and executes the module with:

- controller: {host, pid} - this host's name and the PID of the main ansible-playbook
  (or ansible) process. The task runs in a worker process that the strategy forked from
  the main process (ansible.utils.multiprocessing uses the fork start method), so the
  main process is the worker's parent: os.getppid(). -vvv prints both PIDs.
- takeover: <holder>, on a second run, when the first refused because the lock is held
  by another holder that an ansible process on this same controller host took and that
  process no longer exists (the run was killed without releasing it), once no module of
  that run has beaten for the lock for SILENT_AFTER seconds: a module the killed run started
  may still work on the host, and the plugin waits up to that long for it to go quiet. A lock
  taken from another controller host is never taken over here; only missed heartbeats or
  force=true do that.
"""

from __future__ import annotations

import os
import socket
import time

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.auraspeak.ops.plugins.module_utils._common.lock_heartbeat import SILENT_AFTER

display = Display()


def process_is_gone(pid):
    """True only when no process has this PID (a process of another user counts as alive)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: it exists, owned by someone else
        return False
    return False


def dead_local_holder(args, module_result, controller):
    """The lock content to take over, or None: refused, held by another holder of this controller, PID gone."""
    lock = module_result.get('held_by')
    if not module_result.get('failed') or not isinstance(lock, dict) or args.get('state', 'acquired') != 'acquired':
        return None
    if not lock.get('holder') or lock.get('holder') == args.get('holder'):
        return None
    owner = lock.get('controller') or {}
    if owner.get('host') != controller['host'] or not process_is_gone(owner.get('pid')):
        return None
    return lock


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        module_name = self._task.resolved_action or 'auraspeak.ops.deploy_lock'
        controller = {'host': socket.gethostname(), 'pid': os.getppid()}
        display.vvv(
            'deploy_lock: controller %s, main process pid %d (parent of worker pid %d)'
            % (controller['host'], controller['pid'], os.getpid())
        )
        args = dict(self._task.args, controller=controller)
        module_result = self._execute_module(module_name=module_name, module_args=args, task_vars=task_vars)
        lock = dead_local_holder(args, module_result, controller)
        if lock is not None:
            args['takeover'] = lock['holder']
            quiet = module_result.get('silence')
            if isinstance(quiet, int) and quiet < SILENT_AFTER:
                time.sleep(SILENT_AFTER - quiet + 1)
            module_result = self._execute_module(module_name=module_name, module_args=args, task_vars=task_vars)
            if not module_result.get('failed'):
                module_result.setdefault('warnings', []).append(
                    "deploy_lock: took over the lock of '%s': ansible process %s on this controller (%s) took it "
                    'and no longer runs, so that run died without releasing it'
                    % (lock['holder'], lock['controller']['pid'], controller['host'])
                )
        result.update(module_result)
        return result
