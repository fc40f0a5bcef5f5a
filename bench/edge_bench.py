"""Edge and release-analysis benchmark: failed requests through the edge over HTTPS.

    make bench                                          # everything in bench/
    .venv/bin/python bench/edge_bench.py                # 300 req/s, 300 s windows
    .venv/bin/python bench/edge_bench.py --rate 300 --seconds 60 --only steady,policies
    .venv/bin/python bench/edge_bench.py --only killed --trace /tmp/trace   # what the engine saw
    .venv/bin/python bench/edge_bench.py --direct       # not through Docker's loopback proxy
    .venv/bin/python bench/edge_bench.py --only deploys --vars '{"edge_worker_connections": 1024}'   # the old default

One stack as site.yml deploys it (2 replicas, HTTPS with a self-signed CA, or
plain HTTP with --scheme http) takes an open-loop load (bench/load.js: a new
connection per request, GET /version, GET /api/notes and an authenticated
POST /api/notes in turn) in each scenario:

steady        nothing happens for --seconds: 0 failed is the goal.
policies      60 s windows with the edge's settings before this collection fixed
              them (nginx's 60 s idle upstream keep-alive, max_fails=1
              fail_timeout=5s, no backup tier), each fix alone, and today's
              defaults, in the same run.
deploys       a rolling deploy with release analysis, a release whose health
              check fails, and a deploy killed with SIGKILL during the analysis
              then re-run: 0 failed each (windows of at least 60 s).
killed        only the last of deploys (a deploy killed during the analysis, then re-run),
              for repeating it: --only killed,killed,killed.
analysis      a release answering 25 % of /api/* with 500, and one 300 ms slower:
              seconds from the first bad response to the last (all traffic back
              on the old release), and the failed share of the requests in that
              time against the canary's exposure (10 % x 25 % x the share of
              /api/* requests); a healthy release: 0 failed, and the time the
              analysis adds to deploy.yml against app_analysis=false (same run).

On this 2-core machine the load generator, Docker's userland proxy for loopback
(docker-proxy, a fifth of a core at 300 req/s) and the deploy itself share the
CPU with the stack. The engine here runs with Docker's defaults, so
localhost:<port> goes through docker-proxy; a host the docker_host role prepared
has userland-proxy false, and its clients reach the edge through the kernel's
NAT. --direct measures that path: the load goes to the edge container's own
address (HTTPS: the certificate is checked for localhost, sent as SNI).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'tests', 'integration'))

from container_trace import Trace  # noqa: E402
from deploy_stack import Stack, build_app_images, free_port, kill_tree, remove_app_images, write_inventory  # noqa: E402
from playbook_runs import ENV, ROOT, playbook_command, run_playbook  # noqa: E402

LOAD_JS = os.path.join(HERE, 'load.js')

IMAGE = 'bench-edge/app'
SCENARIOS = ('steady', 'policies', 'deploys', 'analysis')
BEFORE_FIX = {
    'app_edge_keepalive_timeout': 60,
    'app_edge_server_options': 'max_fails=1 fail_timeout=5s',
    'app_edge_fallback': False,
}


class HttpsStack(Stack):
    def __init__(self, name, workdir):
        super().__init__(name, workdir)
        self.https_port = free_port()
        self.tls_dir = os.path.join(workdir, 'tls')

    def host_vars(self):
        values = super().host_vars()
        values.update(
            edge_tls_mode='selfsigned',
            edge_https_port=self.https_port,
            edge_tls_dir=self.tls_dir,
            edge_tls_server_names=['localhost'],
        )
        return values

    def load(self, rate):
        cafile = os.path.join(self.tls_dir, 'ca.crt')
        if self.direct:
            return NodeLoad('https://%s:443/' % edge_address(self.name), rate, cafile, servername='localhost')
        return NodeLoad('https://localhost:%d/' % self.https_port, rate, cafile)


class HttpStack(Stack):
    """The same stack over plain HTTP: no TLS handshake per request, so the client keeps up with higher rates."""

    def load(self, rate):
        if self.direct:
            return NodeLoad('http://%s:80/' % edge_address(self.name), rate, None)
        return NodeLoad('http://127.0.0.1:%d/' % self.port, rate, None)


def edge_address(name):
    """The edge container's own address: with --direct the load goes there, the way a client on another host
    reaches it and the way loopback does on a host the docker_host role prepared (userland-proxy false:
    iptables NAT only), not through the docker-proxy process an engine with its defaults runs per published
    port, which costs this 2-core machine a fifth of a core at 300 req/s and, on Docker 20.10, exits for good
    when it runs out of file descriptors."""
    template = '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}'
    return subprocess.run(
        ['docker', 'inspect', '--format', template, name + '-edge'], capture_output=True, text=True, check=True
    ).stdout.split()[0]


class NodeLoad:
    """bench/load.js in the background: an open-loop client that keeps up with more connections a second."""

    def __init__(self, url, rate, cafile, servername=None):
        self.command = ['node', LOAD_JS, '--url', url, '--rate', str(rate), '--mix', 'api']
        self.command += ['--cafile', cafile] if cafile else []
        self.command += ['--servername', servername] if servername else []
        self.process = None
        self.result = None

    def start(self):
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE, text=True)
        return self

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        out, _err = self.process.communicate(timeout=120)
        self.result = json.loads(out)
        return self

    @property
    def failed(self):
        return self.result['failed']

    @property
    def total(self):
        return self.result['requests']


def slowest_tasks(run, count=6):
    """{task name: seconds} of the run's slowest tasks, and compose_deploy's own phases: where a deploy's time goes."""
    timed = []
    for play in run.data['plays']:
        for task in play['tasks']:
            took = task['task']['duration']
            seconds = _timestamp(took['end']) - _timestamp(took['start'])
            timed.append((round(seconds, 1), task['task']['name']))
            for result in task['hosts'].values():
                for phase, phase_seconds in (result.get('durations') or {}).items():
                    timed.append((phase_seconds, 'compose_deploy ' + phase))
    return {name: seconds for seconds, name in sorted(timed, reverse=True)[:count]}


def _timestamp(text):
    return datetime.datetime.strptime(text, '%Y-%m-%dT%H:%M:%S.%fZ').timestamp()


class Bench:
    def __init__(self, stack, rate, seconds):
        self.stack, self.rate, self.seconds = stack, rate, seconds
        self.versions = iter(['2.0.0', '3.0.0', '1.0.0'] * 20)

    def deploy(self, **extra):
        extra.setdefault('app_version', next(self.versions))
        started = time.monotonic()
        run = run_playbook('playbooks/deploy.yml', extra, inventory=self.stack.inventory)
        return run, round(time.monotonic() - started, 1)

    def under_load(self, action, settle=3, seconds=None):
        """Load through the edge around action(); at least `seconds` of it."""
        since = datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')
        load = self.stack.load(self.rate).start()
        started = time.monotonic()
        time.sleep(settle)
        outcome = action()
        remaining = (seconds or 0) - (time.monotonic() - started)
        time.sleep(max(remaining, 0) + settle)
        load.stop()
        if load.result['failed']:
            load.result['edge_log'] = edge_failures(self.stack.name + '-edge', since)
        return outcome, load

    def steady(self):
        _none, load = self.under_load(lambda: None, seconds=self.seconds)
        return summary(load)

    def policies(self):
        results = {}
        variants = {
            'before the fix: keep-alive 60 s, max_fails=1 fail_timeout=5s': BEFORE_FIX,
            'keep-alive 4 s only': dict(BEFORE_FIX, app_edge_keepalive_timeout=4),
            'backup tier only (keep-alive 60 s)': dict(
                BEFORE_FIX, app_edge_fallback=True, app_edge_server_options='max_fails=3 fail_timeout=10s'
            ),
            'defaults: keep-alive 4 s, max_fails=3 fail_timeout=10s, backup tier': {},
        }
        for name, settings in variants.items():
            run, _seconds = self.deploy(app_analysis=False, **settings)  # a new release with these edge settings
            assert run.rc == 0, run.failures(self.stack.name)
            _none, load = self.under_load(lambda: None, seconds=60)
            results[name] = summary(load)
        return results

    def deploys(self):
        results = {}
        (run, seconds), load = self.under_load(self.deploy, seconds=60)
        results['rolling deploy with analysis'] = dict(
            summary(load), deploy_rc=run.rc, deploy_s=seconds, slowest_tasks=slowest_tasks(run)
        )
        progress(results)
        (run, seconds), load = self.under_load(
            lambda: self.deploy(app_env={'FAULT_HEALTH_FAIL': '1'}, app_health_timeout=25), seconds=60
        )
        results['release whose health check fails'] = dict(summary(load), deploy_rc=run.rc, deploy_s=seconds)
        progress(results)
        results['deploy killed during the analysis, then re-run'] = self.killed()
        return results

    def killed(self):
        upstream = os.path.join(self.stack.dir, 'edge', 'upstreams', self.stack.name + '.conf')
        version = next(self.versions)

        def kill_then_rerun():
            cmd = playbook_command('playbooks/deploy.yml', {'app_version': version}, inventory=self.stack.inventory)
            process = subprocess.Popen(
                cmd, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
            )
            while process.poll() is None and 'weight=' not in read(upstream):
                time.sleep(0.2)
            time.sleep(2)
            kill_tree(process)
            time.sleep(5)
            return self.deploy(app_version=version)

        (run, seconds), load = self.under_load(kill_then_rerun, seconds=60)
        return dict(summary(load), rerun_rc=run.rc, rerun_s=seconds)

    def analysis(self):
        results = {}
        bad = {
            'FAULT_ERROR_RATE=0.25': ({'FAULT_ERROR_RATE': '0.25'}, 'failed_ms'),
            'FAULT_LATENCY_MS=300': ({'FAULT_LATENCY_MS': '300'}, 'slow_ms'),
        }
        for name, (env, marks) in bad.items():
            (run, seconds), load = self.under_load(lambda env=env: self.deploy(app_env=env), seconds=30)
            results[name] = dict(
                exposure(load, marks),
                deploy_rc=run.rc,
                deploy_s=seconds,
                ledger=self.stack.ledger()[-1]['analysis'][-1],
            )
        timings = {}
        for label, extra in (('with analysis', {}), ('app_analysis=false', {'app_analysis': False})) * 2:
            # A release that never served is not kept for rollback: a successful deploy removes
            # the bad releases' images. Tag them again (cached layers: seconds).
            build_app_images(IMAGE)
            (run, seconds), load = self.under_load(lambda extra=extra: self.deploy(**extra))
            assert run.rc == 0, run.failures(self.stack.name)
            timings.setdefault(label, []).append(dict(deploy_s=seconds, failed=load.failed, requests=load.total))
        results['healthy release'] = timings
        return results


def progress(results):
    """The last finished part of a scenario on stderr: a run that aborts later keeps what it measured."""
    name, result = list(results.items())[-1]
    print(json.dumps({name: result}, indent=2), file=sys.stderr, flush=True)


def edge_failures(container, since):
    """What the edge logged about a window with failed requests: its error log and the 5xx of its access log."""
    logs = subprocess.run(['docker', 'logs', '--since', since, container], capture_output=True, text=True, check=False)
    lines = (logs.stdout + logs.stderr).splitlines()
    wanted = [line for line in lines if re.search(r'\[(error|crit|alert|emerg)\]|"status":5[0-9][0-9]', line)]
    return wanted[:40]


def summary(load):
    report = load.result
    result = {
        key: report[key]
        for key in ('requests', 'sent', 'failed', 'outcomes', 'first_errors', 'edge_log')
        if key in report
    }
    result.update(seconds=round(report['seconds'], 1), rate=round(report['rate'], 1))
    return result


def exposure(load, marks):
    """Seconds from the first bad response to the last, and the failed share of the requests in that span."""
    times = load.result[marks]
    if not times:
        return {'bad_responses': 0}
    first, last = min(times), max(times)
    in_span = sum(1 for t in load.result['finished_ms'] if first <= t <= last)
    failed = sum(1 for t in load.result['failed_ms'] if first <= t <= last)
    return {
        'bad_responses': len(times),
        'first_bad_to_all_back_s': round((last - first) / 1000, 1),
        'requests_in_that_span': in_span,
        'failed_in_that_span': failed,
        'failed_share': round(failed / in_span, 4) if in_span else None,
        'goal_share': round(0.10 * 0.25 * 2 / 3, 4),
    }


def database_sessions(stack):
    """For --trace: PostgreSQL's sessions (who, state, what they wait on, for how long), each container's
    CPU and memory, and the host's pressure and busiest processes at each sample."""
    sql = (
        'SELECT client_addr, state, wait_event_type, wait_event,'
        ' round(extract(epoch FROM now() - query_start)::numeric, 1) AS seconds, left(query, 60)'
        " FROM pg_stat_activity WHERE backend_type = 'client backend' ORDER BY 5 DESC"
    )
    argv = ['docker', 'exec', stack.name + '-postgres-1', 'psql', '-U', 'app', '-d', 'app', '-X', '-A', '-c', sql]
    stats = ['docker', 'stats', '--no-stream', '--format', '{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}']
    host = ['sh', '-c', HOST_SAMPLE.replace('{name}', stack.name)]
    return {'pg_stat_activity.log': argv, 'docker_stats.log': stats, 'host.log': host}


# The host's CPU and I/O pressure (cumulative stall microseconds: compare samples), each app and edge
# container's CFS throttling (cgroup v1 or v2), the edge's open connections and those of Docker's
# loopback proxy, and the busiest processes over half a second: is it the host, or a container's CPU limit?
HOST_SAMPLE = r"""
grep -H . /proc/pressure/cpu /proc/pressure/io 2>/dev/null
for pid in $(pgrep -x docker-proxy); do echo "docker-proxy $pid: $(ls /proc/$pid/fd | wc -l) open files"; done
docker exec {name}-edge bash -c 'exec 3<>/dev/tcp/127.0.0.1/8081 &&
  printf "GET /stub_status HTTP/1.0\r\n\r\n" >&3 && cat <&3' | grep -A3 '^Active'
for id in $(docker ps -q --no-trunc --filter name={name}-app --filter name={name}-edge); do
  name=$(docker inspect -f '{{.Name}}' "$id")
  for stat in /sys/fs/cgroup/cpu/docker/$id/cpu.stat /sys/fs/cgroup/system.slice/docker-$id.scope/cpu.stat; do
    [ -r "$stat" ] && echo "$name $(grep throttled "$stat" | tr '
' ' ')"
  done
done
top -b -n 2 -d 0.5 -o %CPU -w 160 | awk '/^top -/ {frame++} frame == 2' | sed -n '1,3p;7,20p'
"""


def read(path):
    try:
        with open(path, encoding='utf-8') as handle:
            return handle.read()
    except FileNotFoundError:
        return ''


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--only', default=','.join(SCENARIOS), help='comma-separated: ' + ', '.join(SCENARIOS) + ', killed'
    )
    parser.add_argument('--rate', type=float, default=300)
    parser.add_argument('--seconds', type=float, default=300)
    parser.add_argument('--scheme', choices=['https', 'http'], default='https')
    parser.add_argument('--output', default=os.path.join(HERE, 'results', 'edge_bench.json'))
    parser.add_argument(
        '--direct',
        action='store_true',
        help="load to the edge container's address (as over the kernel's NAT), not through Docker's loopback proxy",
    )
    parser.add_argument(
        '--vars',
        default='{}',
        metavar='JSON',
        help='inventory variables for the stack, e.g. \'{"edge_worker_connections": 1024}\': to measure a setting',
    )
    parser.add_argument(
        '--trace', metavar='DIR', help="keep the engine's events and the containers' error lines in DIR"
    )
    options = parser.parse_args()
    build_app_images(IMAGE)
    settings = json.loads(options.vars)
    results = {'rate': options.rate, 'seconds': options.seconds, 'scheme': options.scheme, 'vars': settings}
    with tempfile.TemporaryDirectory(prefix='edge-bench-') as workdir:
        stack = (HttpsStack if options.scheme == 'https' else HttpStack)('bench-edge', workdir)
        stack.direct = options.direct
        # The role's defaults for the analysis (write_inventory shortens it for the tests).
        stack.inventory = write_inventory(
            os.path.join(workdir, 'hosts.yml'),
            [stack],
            dict({'app_image_name': IMAGE, 'app_analysis_interval': 30, 'app_analysis_warmup': 5}, **settings),
        )
        stack.destroy()
        try:
            first = run_playbook('playbooks/site.yml', {'app_version': '1.0.0'}, inventory=stack.inventory)
            assert first.rc == 0, first.failures(stack.name)
            bench = Bench(stack, options.rate, options.seconds)
            trace = Trace(options.trace, stack.name, samplers=database_sessions(stack)) if options.trace else None
            with trace or contextlib.nullcontext():
                for scenario in options.only.split(','):
                    results[scenario] = getattr(bench, scenario)()
                    print(json.dumps({scenario: results[scenario]}, indent=2), flush=True)
        finally:
            stack.destroy()
            remove_app_images(IMAGE)
    os.makedirs(os.path.dirname(options.output), exist_ok=True)
    with open(options.output, 'w', encoding='utf-8') as handle:
        json.dump(results, handle, indent=2)


if __name__ == '__main__':
    main()
