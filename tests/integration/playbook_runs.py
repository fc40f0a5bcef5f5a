"""Run the collection's modules and playbooks the way users do, and read the results.

Modules run through the `ansible` CLI and playbooks through `ansible-playbook`,
both with the json stdout callback, against localhost with the checkout's
ansible.cfg, so tests exercise exactly what users run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = dict(
    os.environ,
    ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'),
    ANSIBLE_LOAD_CALLBACK_PLUGINS='1',
    ANSIBLE_STDOUT_CALLBACK='ansible.builtin.json',
    ANSIBLE_NOCOLOR='1',
)
LOCALHOST = ['-i', 'localhost,', '-c', 'local', '-e', 'ansible_python_interpreter=' + sys.executable]


def _bin(name):
    return os.path.join(os.path.dirname(sys.executable), name)


class Run:
    """Result of one ansible run: the host's task results and the raw output."""

    def __init__(self, completed):
        self.rc = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        # With -v and more, ansible prints its own lines before the callback's JSON document.
        lines = completed.stdout.splitlines()
        start = lines.index('{') if '{' in lines else 0
        try:
            self.data = json.loads('\n'.join(lines[start:]))
        except ValueError:
            output = completed.stdout[-3000:] + '\n' + completed.stderr[-3000:]
            raise AssertionError('ansible did not print JSON (rc=%d):\n%s' % (self.rc, output)) from None

    def task_results(self, host='localhost'):
        return [task['hosts'][host] for play in self.data['plays'] for task in play['tasks'] if host in task['hosts']]

    def failures(self, host='localhost'):
        """Messages of the failed tasks of host (of their failed items for loops; ignored failures left out)."""
        messages = []
        for result in self.task_results(host):
            if result.get('failed') and not result.get('ignore_errors'):
                items = [item.get('msg', '') for item in result.get('results', []) if item.get('failed')]
                messages.extend(items or [result.get('msg', '')])
        return messages

    def host_stats(self, host):
        return self.data['stats'].get(host)

    @property
    def result(self):
        """The result of the last task (the module, for ad-hoc runs)."""
        return self.task_results()[-1]

    @property
    def stats(self):
        return self.data['stats']['localhost']


def run_module(module, args, check=False, diff=False, verbosity=0, env=None):
    cmd = [_bin('ansible'), 'localhost', *LOCALHOST, '-m', module, '-a', json.dumps(args)]
    cmd += ['--check'] if check else []
    cmd += ['--diff'] if diff else []
    cmd += ['-' + 'v' * verbosity] if verbosity else []
    environment = dict(ENV, **(env or {}))
    completed = subprocess.run(cmd, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=900, check=False)
    return Run(completed)


def playbook_command(playbook, extra_vars=None, check=False, diff=False, inventory='inventories/local/hosts.yml'):
    cmd = [_bin('ansible-playbook'), os.path.join(ROOT, playbook), '-i', os.path.join(ROOT, inventory)]
    cmd += ['-e', json.dumps(extra_vars)] if extra_vars else []
    cmd += ['--check'] if check else []
    cmd += ['--diff'] if diff else []
    return cmd


def run_verbose(playbook, extra_vars=None, check=False, inventory='inventories/local/hosts.yml'):
    """ansible-playbook --diff -vvv with the default callback: the most a user can make it print."""
    cmd = [*playbook_command(playbook, extra_vars, check, True, inventory), '-vvv']
    env = dict(ENV, ANSIBLE_STDOUT_CALLBACK='ansible.builtin.default')
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False)


def leaked(completed, secrets):
    """The secrets whose value a run printed."""
    output = completed.stdout + completed.stderr
    return [secret for secret in secrets if secret in output]


def run_playbook(playbook, extra_vars=None, check=False, diff=False, inventory='inventories/local/hosts.yml'):
    cmd = playbook_command(playbook, extra_vars, check, diff, inventory)
    completed = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=1800, check=False)
    return Run(completed)
