"""What the engine and the containers did during a benchmark, for finding why requests failed.

    with Trace(directory, 'bench-edge'):
        ...

writes directory/events.log (`docker events` of the project's containers: create, start, kill,
die with its exit code, oom, health changes, each with its time in nanoseconds since the epoch)
and directory/<container>.log (the error and warning lines of each container's log: the app's
"request failed" with its cause, the edge's nginx alerts). Logs are sampled every few seconds,
because a deploy removes the containers it retires, and their logs with them. Commands given
as samplers ({file name: argv}) run at each sample too, their output appended with the time.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time

# The app logs JSON lines with a level; nginx writes [error], [alert] and [emerg].
WORTH_KEEPING = re.compile(r'"level":"(error|warn)"|\[(error|alert|crit|emerg)\]')
EVENT_FORMAT = '{{.TimeNano}} {{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}}'
# Not exec_*: their action names the whole command, which here is a multi-line script.
EVENTS = ('create', 'start', 'kill', 'die', 'oom', 'stop', 'restart', 'destroy', 'health_status')


class Trace:
    def __init__(self, directory, name_prefix, every=3.0, samplers=None):
        self.directory, self.prefix, self.every = directory, name_prefix, every
        self.samplers = samplers or {}
        self.events = None
        self.stopped = threading.Event()
        self.sampler = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self):
        os.makedirs(self.directory, exist_ok=True)
        command = ['docker', 'events', '--filter', 'type=container', '--filter', 'name=' + self.prefix]
        command += [arg for event in EVENTS for arg in ('--filter', 'event=' + event)]
        with open(os.path.join(self.directory, 'events.log'), 'a', encoding='utf-8') as out:
            self.events = subprocess.Popen([*command, '--format', EVENT_FORMAT], stdout=out)
        self.sampler.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.sampler.join()
        self._keep_logs()
        self.events.terminate()
        self.events.wait(timeout=10)

    def _sample(self):
        while not self.stopped.wait(self.every):
            self._keep_logs()
            for name, argv in self.samplers.items():
                answer = subprocess.run(argv, capture_output=True, text=True, check=False)
                with open(os.path.join(self.directory, name), 'a', encoding='utf-8') as out:
                    out.write('--- %s\n%s%s' % (time.strftime('%H:%M:%S'), answer.stdout, answer.stderr))

    def _keep_logs(self):
        names = subprocess.run(
            ['docker', 'ps', '--all', '--filter', 'name=' + self.prefix, '--format', '{{.Names}}'],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        for name in names:
            logs = subprocess.run(['docker', 'logs', name], capture_output=True, text=True, check=False)
            kept = [line for line in (logs.stdout + logs.stderr).splitlines() if WORTH_KEEPING.search(line)]
            if kept:
                # The whole selection each time: a container's log only grows, so the last sample has it all.
                with open(os.path.join(self.directory, name + '.log'), 'w', encoding='utf-8') as out:
                    out.write('\n'.join(kept) + '\n')
