"""The collection's one client to the engine's API (module_utils/_common/engine.py), on the real engine.

What the deploy relies on, each seen against the engine rather than assumed: an
exec's exit code and both streams, the process table nginx reloads are judged
by, logs since a moment, a followed log cut into whole lines, stops that honour
each container's grace period and run at once, removals of what is gone, tags
with a registry port, and an unreachable engine named in the error.
"""

from __future__ import annotations

import datetime
import subprocess
import time
import uuid

import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._common.engine import Engine, EngineError

DEBIAN = 'auraspeak-offline/debian:bookworm'
LABEL = 'io.auraspeak.test.engine-client'


def _epoch(rfc3339):
    """Seconds since the epoch of the engine's nanosecond RFC 3339 times."""
    seconds, _dot, fraction = rfc3339.rstrip('Z').partition('.')
    return datetime.datetime.fromisoformat(seconds + '+00:00').timestamp() + float('0.' + (fraction or '0'))


def _docker(*args):
    return subprocess.run(['docker', *args], capture_output=True, text=True, check=True, timeout=120).stdout.strip()


@pytest.fixture(scope='module')
def engine():
    return Engine()


@pytest.fixture(scope='module')
def sleeper():
    """A container that ignores SIGTERM for 3 s of grace, and logs one line a tenth of a second."""
    name = 'itest-engine-' + uuid.uuid4().hex[:8]
    script = 'trap "" TERM; i=0; while true; do i=$((i+1)); echo "line $i"; sleep 0.1; done'
    _docker('run', '-d', '--name', name, '--label', LABEL + '=1', '--stop-timeout', '3', DEBIAN, 'sh', '-c', script)
    yield name
    subprocess.run(['docker', 'rm', '-f', name], capture_output=True, check=False)


def test_exec_returns_the_exit_code_and_both_streams(engine, sleeper):
    code, out, err = engine.exec(sleeper, ['sh', '-c', 'echo out; echo err >&2; exit 3'])
    assert (code, out, err) == (3, 'out\n', 'err\n')


def test_exec_in_a_missing_container_raises_with_the_command(engine):
    with pytest.raises(EngineError, match='docker exec itest-engine-none true failed'):
        engine.exec('itest-engine-none', ['true'])


def test_top_shows_pids_and_commands(engine, sleeper):
    top = engine.top(sleeper, '-o pid,args')
    assert top['Titles'] == ['PID', 'COMMAND']
    assert any(row[1].startswith('sh -c trap') for row in top['Processes'])
    assert all(row[0].isdigit() for row in top['Processes'])


def test_listing_by_label_and_inspecting_what_is_gone(engine, sleeper):
    ids = engine.container_ids(labels=[LABEL + '=1'])
    assert [d['Name'] for d in engine.inspect_containers(ids)] == ['/' + sleeper]
    assert engine.container_ids(labels=[LABEL + '=2']) == []
    assert engine.inspect_container('itest-engine-none') is None
    assert engine.inspect_containers(ids + ['itest-engine-none']) == engine.inspect_containers(ids)


def test_logs_since_a_moment_and_a_tail(engine, sleeper):
    # since counts in whole seconds (Engine.logs): the moment must be more than a second after
    # the first line, or its whole second may reach back to the container's start.
    time.sleep(1.5)
    moment = time.time()
    time.sleep(0.5)
    since = engine.logs(sleeper, since=moment).splitlines()
    everything = engine.logs(sleeper).splitlines()
    assert 2 <= len(since) < len(everything)
    assert since == everything[-len(since) :] or since == everything[-len(since) - 1 : -1]
    assert len(engine.logs(sleeper, tail=2).splitlines()) == 2
    assert engine.logs('itest-engine-none') is None


def test_a_followed_log_gives_whole_lines_until_closed(engine, sleeper):
    lines = engine.follow_logs(sleeper, since=time.time() - 1, timestamps=True)
    seen = []
    for line in lines:
        seen.append(line)
        if len(seen) == 15:
            break
    lines.close()
    numbers = [int(line.split()[-1]) for line in seen]
    assert all(line.endswith('\n') and ' line ' in line for line in seen)
    assert numbers == list(range(numbers[0], numbers[0] + 15))


def test_stops_honour_the_grace_period_and_run_at_once(engine):
    names = ['itest-engine-stop-%d-%s' % (i, uuid.uuid4().hex[:6]) for i in range(3)]
    for name in names:
        _docker('run', '-d', '--name', name, '--stop-timeout', '2', DEBIAN, 'sh', '-c', 'trap "" TERM; sleep 600')
    try:
        ids = [engine.inspect_container(name)['Id'] for name in names]
        asked = time.time()
        engine.stop(dict.fromkeys(ids, 2))
        states = [engine.inspect_container(i)['State'] for i in ids]
        # SIGTERM ignored: each was killed (137) once its 2 s of grace had passed ...
        assert [s['ExitCode'] for s in states] == [137, 137, 137]
        finished = sorted(_epoch(s['FinishedAt']) for s in states)
        assert finished[0] >= asked + 2, (asked, finished)
        # ... and the three graces ran side by side: one after another, they would end 2 s apart.
        assert finished[-1] - finished[0] < 2, finished
        engine.remove(ids + ['itest-engine-none'])
        assert engine.inspect_containers(ids) == []
    finally:
        subprocess.run(['docker', 'rm', '-f', *names], capture_output=True, check=False)


def test_tags_with_a_registry_port_and_image_removal(engine):
    base = engine.inspect_image(DEBIAN)
    ref = 'localhost:5000/itest-engine/debian:%s' % uuid.uuid4().hex[:6]
    untagged = 'localhost:5000/itest-engine/debian'
    try:
        engine.tag(base['Id'], ref)
        engine.tag(base['Id'], untagged)
        found = engine.inspect_images([ref, untagged + ':latest', 'itest-engine/none:1'])
        assert found[ref]['Id'] == found[untagged + ':latest']['Id'] == base['Id']
        assert found['itest-engine/none:1'] is None
        assert engine.remove_image(ref) is None
        assert engine.inspect_image(ref) is None
        assert engine.remove_image(ref) is None  # gone already
    finally:
        subprocess.run(['docker', 'rmi', ref, untagged], capture_output=True, check=False)


def test_an_unreachable_engine_is_named_with_the_fix():
    with pytest.raises(
        EngineError, match=r'cannot reach the Docker engine at unix:///tmp/itest-none\.sock.*docker_host'
    ):
        Engine('unix:///tmp/itest-none.sock')
