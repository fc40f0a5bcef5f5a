"""The job templates and surveys of playbooks/awx/job_templates.yml, against the playbooks they run.

A controller cannot run on the test machine; the integration tests launch deploy, rollback,
backup and restore through ansible-runner with answers built from these surveys
(tests/integration/awx_jobs.py). Here: every template runs a playbook that exists, every
survey question is one the controller accepts and sets a variable its playbook reads.
"""

from __future__ import annotations

import glob
import os
import re

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
with open(os.path.join(ROOT, 'playbooks', 'awx', 'job_templates.yml'), encoding='utf-8') as _handle:
    TEMPLATES = yaml.safe_load(_handle)['awx_job_templates']
QUESTION_TYPES = {'text', 'textarea', 'password', 'integer', 'float', 'multiplechoice', 'multiselect'}
QUESTIONS = [(t['name'], q) for t in TEMPLATES for q in t['survey']]


def test_the_jobs_users_run_by_hand_each_have_a_template():
    names = [t['name'] for t in TEMPLATES]
    assert len(names) == len(set(names)), names
    assert {'deploy', 'rollback', 'backup', 'verify_backup', 'restore'} <= set(names)


@pytest.mark.parametrize('template', TEMPLATES, ids=[t['name'] for t in TEMPLATES])
def test_every_template_runs_a_playbook_of_the_collection(template):
    assert os.path.isfile(os.path.join(ROOT, template['playbook'])), template['playbook']
    assert template['description'].strip()


@pytest.mark.parametrize('template_name, question', QUESTIONS, ids=['%s-%s' % (t, q['variable']) for t, q in QUESTIONS])
def test_every_question_sets_a_variable_its_playbook_reads(template_name, question):
    (template,) = [t for t in TEMPLATES if t['name'] == template_name]
    with open(os.path.join(ROOT, template['playbook']), encoding='utf-8') as handle:
        playbook = handle.read()
    assert re.search(r'\b%s\b' % re.escape(question['variable']), playbook), question['variable']
    assert question['type'] in QUESTION_TYPES, question
    assert question['question_name'].strip() and question['question_description'].strip()
    assert isinstance(question['required'], bool), question
    if question['type'] == 'multiplechoice':
        # The controller sends the chosen string: the playbooks read yes/no through `| bool`.
        assert all(isinstance(choice, str) for choice in question['choices']), question
        assert question.get('default', question['choices'][0]) in question['choices'], question
    else:
        assert 'choices' not in question, question


def playbook_text(playbook):
    """The playbook, and the task and vars files of the collection's roles it includes (where its logic
    lives, and where the release role reads the playbooks' variables)."""
    with open(os.path.join(ROOT, playbook), encoding='utf-8') as handle:
        text = handle.read()
    for role in sorted(set(re.findall(r'name: auraspeak\.ops\.(\w+)', text))):
        role_dir = os.path.join(ROOT, 'roles', role)
        for tasks in sorted(
            glob.glob(os.path.join(role_dir, 'tasks', '*.yml')) + glob.glob(os.path.join(role_dir, 'vars', '*.yml'))
        ):
            with open(tasks, encoding='utf-8') as handle:
                text += handle.read()
    return text


def test_yes_no_answers_are_read_as_booleans_by_the_playbook():
    """A multiple-choice yes/no arrives as the string "no", which is true in Jinja unless cast."""
    for template_name, question in QUESTIONS:
        if question['type'] == 'multiplechoice' and set(question['choices']) == {'yes', 'no'}:
            (template,) = [t for t in TEMPLATES if t['name'] == template_name]
            uses = re.findall(r'%s\b[^\n]*' % re.escape(question['variable']), playbook_text(template['playbook']))
            reads = [use for use in uses if 'default(' in use]
            assert reads and all('| bool' in use for use in reads), (question['variable'], reads)
