"""Run a playbook the way AWX and Automation Controller run a job template.

ansible-runner from a private data directory: the project (this checkout), the inventory with
the secrets a user keeps in a vault moved into vaulted group_vars, the survey's answers as extra
vars, and the vault credential's password handed to the one prompt it answers. Nothing else
prompts: a job that waits for input would time out.
"""

from __future__ import annotations

import os
import subprocess
import tempfile

import ansible_runner
import yaml
from playbook_runs import ENV, ROOT

VAULT_PASSWORD = 'itest-vault-credential'
JOB_TEMPLATES = os.path.join(ROOT, 'playbooks', 'awx', 'job_templates.yml')
JOB_TIMEOUT = 900  # seconds, as a job template's timeout
TASK_EVENTS = ('runner_on_ok', 'runner_on_failed', 'runner_on_skipped', 'runner_on_unreachable')


class Job:
    """One finished job: its status, output, events and the task results per host."""

    def __init__(self, runner, verbosity):
        self.status = runner.status
        self.rc = runner.rc
        self.verbosity = verbosity
        # ansible-runner runs the playbook on a terminal: both streams are in stdout.
        self.stdout = runner.stdout.read()
        self.stderr = ''
        self.events = list(runner.events)
        self.stats = runner.stats

    def event_names(self):
        return [event['event'] for event in self.events]

    def task_results(self, host):
        return [
            event['event_data'].get('res', {})
            for event in self.events
            if event['event'] in TASK_EVENTS and event['event_data'].get('host') == host
        ]

    def failures(self, host):
        """Messages of the host's failed tasks, ignored failures left out."""
        return [
            event['event_data'].get('res', {}).get('msg', '')
            for event in self.events
            if event['event'] == 'runner_on_failed'
            and event['event_data'].get('host') == host
            and not event['event_data'].get('ignore_errors')
        ]

    def assert_ran_unattended(self, host):
        """The job asked for nothing but the vault password, ran to its stats, and failed no task."""
        names = self.event_names()
        assert (self.status, self.rc) == ('successful', 0), self.stdout[-3000:]
        # A prompt nobody answered would have held the job until its timeout (status "timeout").
        # Before the playbook starts, the job prints only lines: the prompt ansible-runner
        # answered, and at higher verbosity ansible's own (config file, vault ids).
        before_start = names[: names.index('playbook_on_start')]
        assert set(before_start) <= {'verbose'} and names[-1] == 'playbook_on_stats', names[:3] + names[-3:]
        if self.verbosity == 0:
            assert len(before_start) <= 1, before_start
        assert 'runner_on_failed' not in names and 'runner_on_unreachable' not in names, self.failures(host)
        assert self.stats['ok'].get(host) and not self.stats['failures'], self.stats


def job_template(name):
    with open(JOB_TEMPLATES, encoding='utf-8') as handle:
        (template,) = [t for t in yaml.safe_load(handle)['awx_job_templates'] if t['name'] == name]
    return template


def survey_answers(template_name, **answers):
    """The extra vars a controller sends when the template is launched with these survey answers.

    Every answer must be a question of the template's survey (playbooks/awx/job_templates.yml), a
    multiple-choice answer one of its choices, sent as the string it is; an unanswered question
    sends its default when it has one, and a required one without a default stops the launch.
    """
    questions = {question['variable']: question for question in job_template(template_name)['survey']}
    unknown = set(answers) - set(questions)
    assert not unknown, 'not in the survey of %s: %s' % (template_name, sorted(unknown))
    extra_vars = {}
    for variable, question in questions.items():
        if variable in answers:
            answer = answers[variable]
            if question['type'] == 'multiplechoice':
                assert answer in question['choices'], (variable, answer, question['choices'])
            extra_vars[variable] = answer
        elif str(question.get('default', '')) != '':
            extra_vars[variable] = question['default']
        else:
            assert not question['required'], '%s is required by the survey of %s' % (variable, template_name)
    return extra_vars


def _move_into_vault(inventory, names, inventory_dir):
    """Take each named variable out of the group that sets it into that group's vaulted vars file."""
    groups = {'all': inventory['all'], **inventory['all'].get('children', {})}
    for group_name, group in groups.items():
        vaulted = {name: group['vars'].pop(name) for name in names if name in group.get('vars', {})}
        if not vaulted:
            continue
        vault = os.path.join(inventory_dir, 'group_vars', group_name, 'vault.yml')
        os.makedirs(os.path.dirname(vault))
        with open(vault, 'w', encoding='utf-8') as handle:
            yaml.safe_dump(vaulted, handle)
        with tempfile.NamedTemporaryFile('w', suffix='.pw') as password:
            password.write(VAULT_PASSWORD + '\n')
            password.flush()
            subprocess.run(
                ['ansible-vault', 'encrypt', '--vault-password-file', password.name, vault],
                env=ENV, check=True, capture_output=True,
            )  # fmt: skip
        with open(vault, encoding='utf-8') as handle:
            encrypted = handle.read()
        assert not [name for name, value in vaulted.items() if str(value) in encrypted], 'not encrypted: ' + vault


def run_job(workdir, template_name, inventory_file, extravars=None, vaulted=(), verbosity=0, diff=False):
    """Run a job template's playbook as a job; vaulted names the inventory's secret variables."""
    job = tempfile.mkdtemp(prefix='job-', dir=str(workdir))
    inventory_dir = os.path.join(job, 'inventory')
    os.makedirs(inventory_dir)
    os.symlink(ROOT, os.path.join(job, 'project'))
    with open(inventory_file, encoding='utf-8') as handle:
        inventory = yaml.safe_load(handle)
    _move_into_vault(inventory, vaulted, inventory_dir)
    with open(os.path.join(inventory_dir, 'hosts.yml'), 'w', encoding='utf-8') as handle:
        yaml.safe_dump(inventory, handle)
    cmdline = ['--ask-vault-pass'] + (['--diff'] if diff else [])
    runner = ansible_runner.run(
        private_data_dir=job,
        playbook=job_template(template_name)['playbook'],
        extravars=extravars or {},
        cmdline=' '.join(cmdline),
        passwords={r'^Vault password:\s*?$': VAULT_PASSWORD},
        envvars={key: ENV[key] for key in ('ANSIBLE_CONFIG', 'PYTHONPATH', 'PATH') if key in ENV},
        settings={'job_timeout': JOB_TIMEOUT},
        verbosity=verbosity,
        quiet=True,
    )
    return Job(runner, verbosity)
