"""A deploy-test stack with the backup role on top, for the backup and restore tests.

The stack archives its WAL to pgBackRest, keeps its repositories and dumps on a
tmpfs of its own (so a test can fill it up), backs up a volume of its own with
restic, and installs the auraspeak-backup command under its own directory, so
nothing touches the demo stack or another test's stack.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
import time

from deploy_stack import STACK_SECRETS, Stack, build_app_images, docker, remove_app_images, write_inventory
from deploy_stack import VAULTED as STACK_VAULTED
from playbook_runs import ROOT, run_verbose

from ansible_collections.auraspeak.ops.plugins.module_utils._backup.docker import psql, psql_argv

CIPHER_PASS = 'itest-pgbackrest-passphrase-0123456789'
# Any image with a shell and coreutils, for looking into volumes.
TOOLS_IMAGE = 'auraspeak-offline/restic:0.14'
RESTIC_PASSWORD = 'itest-restic-password-0123456789'
BACKUP_SECRETS = (*STACK_SECRETS, CIPHER_PASS, RESTIC_PASSWORD)
VAULTED = (*STACK_VAULTED, 'backup_pgbackrest_cipher_pass', 'backup_restic_password')
BACKUPS_TMPFS_SIZE = '768m'

# A release whose migration adds a table: what a database rollback must undo.
MIGRATION_0004_UP = 'CREATE TABLE tags (id serial PRIMARY KEY, name text NOT NULL UNIQUE);\n'
MIGRATION_0004_DOWN = 'DROP TABLE tags;\n'


class BackupStack(Stack):
    def __init__(self, name, workdir, image, tmpfs_size=BACKUPS_TMPFS_SIZE):
        super().__init__(name, workdir)
        self.image = image
        self.tmpfs_size = tmpfs_size
        self.backup_root = os.path.join(workdir, 'backups')
        self.files_volume = name + '-files'
        self.bin_dir = os.path.join(workdir, 'bin')
        self.backup_config = os.path.join(self.config_dir, 'backup', 'backup.json')
        self.project_state = os.path.join(self.state_dir, name)

    def group_vars(self, extra=None):
        values = {
            'app_image_name': self.image,
            'app_postgres_wal_archive': True,
            # Exact commit times: the PITR test compares every row with the target time.
            'app_postgres_settings': {'track_commit_timestamp': 'on'},
            'app_postgres_pgbackrest_repo_path': os.path.join(self.backup_root, 'pgbackrest'),
            'backup_root': self.backup_root,
            'backup_lib_dir': os.path.join(self.dir, 'lib'),
            'backup_bin_dir': self.bin_dir,
            'backup_pgbackrest_cipher_pass': CIPHER_PASS,
            'backup_restic_password': RESTIC_PASSWORD,
            'backup_restic_image': 'auraspeak-offline/restic:0.14',
            'backup_restic_volumes': [self.files_volume],
            'backup_scheduler': 'cron',
            'backup_cron_file': os.path.join(self.dir, 'cron', 'auraspeak-backup'),
            'backup_log_file': os.path.join(self.dir, 'backup.log'),
        }
        values.update(extra or {})
        return values

    # -- set up and tear down ----------------------------------------------------

    def create(self, extra_vars=None, version='1.0.0'):
        """Mount the tmpfs, make the files volume, write the inventory and run site.yml."""
        self.destroy()
        os.makedirs(self.backup_root, exist_ok=True)
        os.makedirs(os.path.join(self.dir, 'cron'), exist_ok=True)
        subprocess.run(
            ['mount', '-t', 'tmpfs', '-o', 'size=%s,mode=0755' % self.tmpfs_size, 'tmpfs', self.backup_root],
            check=True,
        )
        docker('volume', 'create', self.files_volume)
        self.inventory = write_inventory(os.path.join(self.dir, 'hosts.yml'), [self], self.group_vars(extra_vars))
        # As verbose as a user can make it: the secret canary test reads this output.
        self.site_run = run_verbose('playbooks/site.yml', {'app_version': version}, inventory=self.inventory)
        assert self.site_run.returncode == 0, self.site_run.stdout[-3000:] + self.site_run.stderr[-3000:]
        return self.site_run

    def create_or_clean_up(self, extra_vars=None, version='1.0.0'):
        try:
            return self.create(extra_vars, version)
        except BaseException:
            self.destroy()
            raise

    def destroy(self):
        super().destroy()
        for name in docker(
            'ps', '-aq', '--filter', 'label=io.auraspeak.ops.backup-tool=' + self.name, check=False
        ).stdout.split():
            docker('rm', '--force', '--volumes', name, check=False)
        docker('volume', 'rm', '--force', self.files_volume, check=False)
        if os.path.ismount(self.backup_root):
            subprocess.run(['umount', self.backup_root], check=False)

    # -- the backup command and its state ------------------------------------------

    def cli_argv(self, *args, config=None):
        """The command line of auraspeak-backup as the role installed it (the stack's config, or another)."""
        return [os.path.join(self.bin_dir, 'auraspeak-backup'), '--config', config or self.backup_config, *args]

    def backup_cli(self, *args, check=True, timeout=900):
        """auraspeak-backup as the role installed it; returns (rc, parsed JSON output)."""
        proc = subprocess.run(self.cli_argv(*args), capture_output=True, text=True, timeout=timeout, check=False)
        data = json.loads(proc.stdout) if proc.stdout.strip() else None
        if check:
            assert proc.returncode == 0, (args, proc.stdout[-2000:], proc.stderr[-2000:])
        return proc.returncode, data

    def state(self):
        with open(os.path.join(self.project_state, 'backup-state.json'), encoding='utf-8') as handle:
            return json.load(handle)

    def job(self, name):
        return self.state()['jobs'].get(name, {})

    def metrics(self):
        with open(os.path.join(self.project_state, 'metrics', 'auraspeak_backup.prom'), encoding='utf-8') as handle:
            return handle.read()

    def metric(self, name, backup):
        wanted = 'auraspeak_backup_%s{project="%s",backup="%s"} ' % (name, self.name, backup)
        lines = [line for line in self.metrics().splitlines() if line.startswith(wanted)]
        return float(lines[0].split()[-1]) if lines else None

    def listing(self):
        return self.backup_cli('list')[1]

    def pgbackrest_sets(self):
        return [s['label'] for s in self.listing()['pgbackrest']]

    def dumps(self, snapshots=False):
        listing = self.listing()
        return [d['id'] for d in listing['snapshots' if snapshots else 'dumps']]

    def drill_containers(self):
        return docker('ps', '-aq', '--filter', 'label=io.auraspeak.ops.backup-tool=' + self.name).stdout.split()

    # -- the database ------------------------------------------------------------------

    def postgres_container(self):
        ids = self.containers('postgres')
        assert ids, 'PostgreSQL of %s is not running' % self.name
        return ids[0]

    def sql(self, statement, database='app'):
        """Rows of SQL run with psql in the live PostgreSQL, each a list of strings."""
        return psql(self.postgres_container(), 'app', database, statement)

    def tables(self):
        return sorted(row[0] for row in self.sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))

    # -- the application's API -----------------------------------------------------------

    def login(self):
        status, body = self.request('POST', '/api/login', {'username': 'itest'})
        assert status == 200, (status, body)
        return body['token']

    def add_note(self, token, title):
        status, body = self.request('POST', '/api/notes', {'title': title, 'body': 'written by a test'}, token)
        assert status == 201, (status, body)
        return body['id']

    def note_titles(self):
        return sorted(row[0] for row in self.sql('SELECT title FROM notes'))

    def request(self, method, path, payload=None, token=None):
        import urllib.error
        import urllib.request

        request = urllib.request.Request(
            'http://127.0.0.1:%d%s' % (self.port, path),
            data=json.dumps(payload).encode() if payload is not None else None,
            method=method,
            headers={'content-type': 'application/json', **({'authorization': 'Bearer ' + token} if token else {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b'null')
        except urllib.error.HTTPError as exc:
            return exc.code, None


def volume_tree(volume):
    """Every entry of a volume with its type, mode, owner, size and content hash: equal trees are byte-identical."""
    script = (
        'cd /v && find . -mindepth 1 -printf "%y %m %U:%G %s %p -> %l\\n" | sort && '
        'find . -type f -print0 | sort -z | xargs -0 -r sha256sum'
    )
    out = docker(
        'run',
        '--rm',
        '--network',
        'none',
        '-v',
        '%s:/v:ro' % volume,
        '--entrypoint',
        'sh',
        TOOLS_IMAGE,
        '-c',
        script,
    ).stdout
    return hashlib.sha256(out.encode()).hexdigest(), out


def in_volume(volume, script):
    """Run a shell script with the volume at /v, in a container of its own."""
    docker('run', '--rm', '--network', 'none', '-v', '%s:/v' % volume, '--entrypoint', 'sh', TOOLS_IMAGE, '-c', script)


def fill_volume(volume, seed):
    """Files of several sizes, modes and owners, an empty file, a symlink and nested directories."""
    in_volume(
        volume,
        'set -e; cd /v; mkdir -p uploads/2026/11 empty-dir; '
        'head -c 3000000 /dev/urandom > uploads/2026/11/big.bin; '
        'echo "note %s" > uploads/readme.txt; : > uploads/empty; '
        'chmod 0600 uploads/readme.txt; chown 1000:1000 uploads/2026/11/big.bin; '
        'ln -s uploads/readme.txt link-to-readme; '
        'for i in $(seq 1 50); do head -c $((i * 97)) /dev/urandom > uploads/2026/small-$i.dat; done' % seed,
    )


def change_volume(volume):
    in_volume(volume, 'cd /v && rm -rf uploads/2026/11 && echo changed > uploads/readme.txt && touch new-file')


class RowWriter:
    """Inserts one row per transaction from a background thread, through one psql session.

    The table needs a bigserial id and a timestamptz column at; committed holds
    (id, time the commit was acknowledged) for every row.
    """

    def __init__(self, stack, table, interval=0.05):
        self.stack = stack
        self.table = table
        self.interval = interval
        self.committed = []
        self._stop = threading.Event()
        self._proc = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        self._proc = subprocess.Popen(
            psql_argv(self.stack.postgres_container(), 'app', 'app'),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        insert = 'INSERT INTO %s (at) VALUES (clock_timestamp()) RETURNING id;\n' % self.table
        while not self._stop.is_set():
            try:
                self._proc.stdin.write(insert)
                self._proc.stdin.flush()
                line = self._proc.stdout.readline()
            except OSError:
                return
            if not line.strip():
                return
            self.committed.append((int(line), time.time()))
            time.sleep(self.interval)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=10)
        if self._proc:
            self._proc.kill()
            self._proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def build_images(image):
    """<image>:1.0.0 to 3.0.0 of examples/app, and 2.0.0 with migration 0004 (a new table)."""
    build_app_images(image)
    context = os.path.join(ROOT, 'tests', 'output', 'itest-' + image.replace('/', '-'))
    os.makedirs(context, exist_ok=True)
    for name, text in (
        ('0004_create_tags.up.sql', MIGRATION_0004_UP),
        ('0004_create_tags.down.sql', MIGRATION_0004_DOWN),
    ):
        with open(os.path.join(context, name), 'w', encoding='utf-8') as handle:
            handle.write(text)
    with open(os.path.join(context, 'Dockerfile'), 'w', encoding='utf-8') as handle:
        handle.write('FROM %s:2.0.0\nCOPY 0004_create_tags.up.sql 0004_create_tags.down.sql ./migrations/\n' % image)
    docker('buildx', 'build', '--quiet', '--tag', '%s:2.0.0' % image, context)


def remove_images(image):
    remove_app_images(image)


def fill_up(path, chunk=1024 * 1024):
    """Write zeros to path until its file system has no byte left."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (chunk, 4096, 1):
            try:
                while os.write(fd, b'\0' * size):
                    pass
            except OSError:
                continue
    finally:
        os.close(fd)


def wait_for(predicate, timeout=30, interval=0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False
