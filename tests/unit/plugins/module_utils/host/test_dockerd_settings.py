import pytest

from ansible_collections.auraspeak.ops.plugins.filter.dockerd_flag_conflicts import dockerd_flag_conflicts
from ansible_collections.auraspeak.ops.plugins.filter.dockerd_not_in_effect import dockerd_not_in_effect
from ansible_collections.auraspeak.ops.plugins.filter.json_changes import json_changes
from ansible_collections.auraspeak.ops.plugins.module_utils._host.dockerd_settings import (
    bool_flag,
    log_opts,
    parse_bool,
)

KEYS = ['live-restore', 'log-driver', 'log-opts', 'no-new-privileges', 'userland-proxy']
INFO = {'ServerVersion': '20.10.24', 'LiveRestoreEnabled': True, 'LoggingDriver': 'json-file'}
WANTED = {
    'live-restore': True,
    'log-driver': 'json-file',
    'log-opts': {'max-size': '10m', 'max-file': '3'},
    'no-new-privileges': True,
    'userland-proxy': False,
}
FILE = {'no-new-privileges': True, 'userland-proxy': False, 'log-opts': {'max-file': '3', 'max-size': '10m'}}


@pytest.mark.parametrize(
    'text, value',
    [
        ('1', True),
        ('t', True),
        ('TRUE', True),
        ('True', True),
        ('0', False),
        ('F', False),
        ('false', False),
        ('yes', None),
        ('', None),
    ],
)
def test_booleans_are_read_as_dockerd_reads_them(text, value):
    assert parse_bool(text) is value


@pytest.mark.parametrize(
    'flags, expected',
    [
        ([], (None, None)),
        (['--no-new-privileges'], (True, '--no-new-privileges')),
        (['--no-new-privileges=false'], (False, '--no-new-privileges=false')),
        # The last one wins, as in dockerd; a longer flag with the same start is another flag.
        (['--no-new-privileges', '--no-new-privileges=0', '--no-new-privileges-x'], (False, '--no-new-privileges=0')),
    ],
)
def test_the_last_boolean_flag_wins(flags, expected):
    assert bool_flag(flags, 'no-new-privileges') == expected


def test_log_options_are_read_in_both_spellings():
    flags = ['--log-opt', 'max-size=10m', '--log-opt=max-file=3', '--log-opt', 'novalue', '--debug', 'tag=x']
    assert log_opts(flags) == {'max-size': '10m', 'max-file': '3'}


def test_an_engine_that_runs_the_settings_has_nothing_missing():
    assert dockerd_not_in_effect([], WANTED, KEYS, info=INFO, file_settings=FILE) == {}


def test_each_missing_setting_names_its_source():
    flags = ['--userland-proxy=true', '--log-opt', 'max-size=1m']
    missing = dockerd_not_in_effect(
        flags, WANTED, KEYS, info=dict(INFO, LiveRestoreEnabled=False), file_settings=FILE, file_source='/x.json'
    )
    assert missing == {
        'live-restore': {'wanted': True, 'running': False, 'source': 'docker info'},
        'log-opts': {'wanted': WANTED['log-opts'], 'running': {'max-size': '1m'}, 'source': 'dockerd --log-opt flags'},
        'userland-proxy': {'wanted': False, 'running': True, 'source': 'dockerd flag --userland-proxy=true'},
    }


def test_what_the_engine_does_not_report_is_unknown_when_its_file_changed_since_it_started():
    missing = dockerd_not_in_effect(
        [], WANTED, KEYS, info=INFO, file_settings=FILE, file_source='/f (changed)', stale=True
    )
    assert sorted(missing) == ['log-opts', 'no-new-privileges', 'userland-proxy']
    assert {m['running'] for m in missing.values()} == {'unknown'} and missing['log-opts']['source'] == '/f (changed)'


def test_an_engine_that_does_not_answer_is_unknown_and_defaults_come_from_dockerd():
    missing = dockerd_not_in_effect([], WANTED, KEYS, info={}, file_settings={})
    assert missing['live-restore'] == {'wanted': True, 'running': 'unknown', 'source': 'docker info failed'}
    # Unset in the file: dockerd's defaults (no-new-privileges off, userland-proxy on, no log options).
    assert (missing['no-new-privileges']['running'], missing['userland-proxy']['running']) == (False, True)
    assert missing['log-opts']['running'] == {}


def test_true_and_one_differ_as_they_do_in_daemon_json():
    assert dockerd_not_in_effect([], {'live-restore': True}, ['live-restore'], info=dict(INFO, LiveRestoreEnabled=1))
    assert json_changes({'a': 1}, {'a': True}) == {'a': {'before': 1, 'after': True}}


def test_changes_list_added_removed_and_changed_keys_only():
    before = {'keep': {'x': [1, 2]}, 'gone': 'a', 'moved': 'b'}
    after = {'keep': {'x': [1, 2]}, 'moved': 'c', 'new': False}
    assert json_changes(before, after) == {
        'gone': {'before': 'a'},
        'moved': {'before': 'b', 'after': 'c'},
        'new': {'after': False},
    }
    assert json_changes({}, {}) == {}


def test_keys_also_set_on_the_command_line_are_named_with_the_flag():
    flags = ['-H', 'fd://', '-H=unix:///run/docker.sock', '--live-restore', '--log-opt=max-size=1m', '--hosts-x']
    key_flags = {'hosts': ['-H', '--host'], 'log-opts': ['--log-opt']}
    assert dockerd_flag_conflicts(flags, ['hosts', 'log-opts', 'live-restore', 'debug'], key_flags) == [
        'hosts (-H)',
        'hosts (-H=unix:///run/docker.sock)',
        'log-opts (--log-opt=max-size=1m)',
        'live-restore (--live-restore)',
    ]
