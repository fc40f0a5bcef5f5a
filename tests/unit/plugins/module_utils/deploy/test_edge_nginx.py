import os
import time

from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.edge_nginx import (
    EdgeNginx,
    serving_workers,
    started_at,
)

TOP = {
    'Titles': ['PID', 'COMMAND'],
    'Processes': [
        ['4101', 'nginx: master process nginx -g daemon off;'],
        ['4188', 'nginx: worker process is shutting down'],
        ['4230', 'nginx: worker process'],
        ['4231', 'nginx: worker process'],
    ],
}


def _renewed(top):
    return dict(top, Processes=[[str(int(pid) + 1000), args] for pid, args in top['Processes']])


def test_only_workers_that_take_requests_count():
    assert serving_workers(TOP) == [4230, 4231]


def test_no_workers_when_the_engine_shows_none_or_the_container_is_not_running():
    assert serving_workers({'Titles': ['PID', 'COMMAND'], 'Processes': []}) == []
    assert serving_workers(None) == []


def _proc(tmp_path, pid, ticks, uptime):
    os.makedirs(tmp_path / str(pid))
    # The command may hold spaces and parentheses; starttime is field 22.
    fields = ['S', '1'] + ['0'] * 17 + [str(ticks)] + ['0'] * 10
    (tmp_path / str(pid) / 'stat').write_text('%d (nginx: worker (x)) %s\n' % (pid, ' '.join(fields)))
    (tmp_path / 'uptime').write_text('%s 100.00\n' % uptime)


def test_start_time_is_boot_time_plus_starttime(tmp_path):
    ticks_per_second = os.sysconf('SC_CLK_TCK')
    _proc(tmp_path, 42, ticks=int(900 * ticks_per_second), uptime='1000.00')
    # Booted 1000 s before now=5000, started 900 s after boot.
    assert started_at(42, proc=str(tmp_path), now=lambda: 5000.0) == 4900.0


def test_start_time_of_a_process_that_is_gone_is_unknown(tmp_path):
    assert started_at(7, proc=str(tmp_path)) is None


def test_start_time_of_this_process_is_in_the_past():
    start = started_at(os.getpid())
    assert start is not None and start <= time.time()


class SlowReloadDocker:
    """An engine whose nginx replaces its workers at the fourth look after the reload signal."""

    def __init__(self):
        self.looks = 0

    def exec(self, container, argv):
        return 0, '', ''

    def top(self, container, ps_args):
        assert ps_args == '-o pid,args'
        self.looks += 1
        return TOP if self.looks <= 4 else _renewed(TOP)


def test_a_slow_reload_is_looked_at_less_and_less_often():
    sleeps = []
    EdgeNginx(SlowReloadDocker(), 'edge', reload_timeout=60, sleep=sleeps.append).reload()
    assert sleeps == [0.1, 0.2, 0.4]
