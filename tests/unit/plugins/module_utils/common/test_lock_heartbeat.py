import json
import os
import threading

import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._common import lock_heartbeat as hb


def write_lock(path, holder):
    with open(path, 'w') as handle:
        json.dump({'holder': holder}, handle)
    long_ago = 1_000_000_000
    os.utime(path, (long_ago, long_ago))


def read(path):
    with open(path, 'rb') as handle:
        return handle.read()


def test_a_beat_touches_the_lock_of_its_holder_and_nothing_else(tmp_path):
    path = str(tmp_path / 'deploy.lock')
    write_lock(path, 'alice')
    before = read(path)
    assert hb.beat(path, 'alice') is None
    assert os.stat(path).st_mtime > 1_000_000_000
    assert read(path) == before  # the content a takeover compares stays as it was


@pytest.mark.parametrize(
    'content, fragment',
    [
        ('{"holder": "bob"}', "taken over by 'bob' while this run ('alice') held it"),
        ('not json', "taken over by None while this run ('alice') held it"),
        (None, 'was removed while this run held it'),
    ],
)
def test_a_beat_reports_a_lock_it_no_longer_holds(tmp_path, content, fragment):
    path = str(tmp_path / 'deploy.lock')
    if content is not None:
        with open(path, 'w') as handle:
            handle.write(content)
        os.utime(path, (1_000_000_000, 1_000_000_000))
    assert fragment in hb.beat(path, 'alice')
    if content is not None:
        assert os.stat(path).st_mtime == 1_000_000_000  # not touched


def test_the_heartbeat_beats_while_the_body_runs_and_stops_after(tmp_path):
    path = str(tmp_path / 'deploy.lock')
    write_lock(path, 'alice')
    with hb.Heartbeat(path, 'alice', every=0.01) as heartbeat:
        assert os.stat(path).st_mtime > 1_000_000_000  # a first beat on entry
        os.utime(path, (1_000_000_000, 1_000_000_000))
        for _attempt in range(500):
            if os.stat(path).st_mtime > 1_000_000_000:
                break
            threading.Event().wait(0.01)
        assert os.stat(path).st_mtime > 1_000_000_000, 'the thread never beat'
        heartbeat.check()
    os.utime(path, (1_000_000_000, 1_000_000_000))
    threading.Event().wait(0.05)
    assert os.stat(path).st_mtime == 1_000_000_000, 'it beat after the body ended'


def test_the_heartbeat_tells_the_run_when_its_lock_was_taken(tmp_path):
    path = str(tmp_path / 'deploy.lock')
    write_lock(path, 'alice')
    with hb.Heartbeat(path, 'alice', every=0.01) as heartbeat:
        write_lock(path, 'bob')
        for _attempt in range(500):
            if heartbeat.lost:
                break
            threading.Event().wait(0.01)
        with pytest.raises(hb.LockLost, match="taken over by 'bob'"):
            heartbeat.check()
    assert os.stat(path).st_mtime == 1_000_000_000  # bob's lock was never touched


def test_a_heartbeat_refuses_to_start_on_a_lock_it_does_not_hold(tmp_path):
    path = str(tmp_path / 'deploy.lock')
    write_lock(path, 'bob')
    with pytest.raises(hb.LockLost, match="taken over by 'bob'"), hb.Heartbeat(path, 'alice'):
        pytest.fail('the body ran')


def test_silence_is_never_negative():
    assert hb.silence(100.0, 160.9) == 60
    assert hb.silence(200.0, 160.0) == 0
