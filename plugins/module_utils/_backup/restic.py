# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to auraspeak.ops (standard library only, see docker.py).
# Named volumes backed up with restic, one snapshot per volume, each run in a
# throwaway container of the restic image that mounts the volume read-only.

from __future__ import annotations

import json
import os
import time

from .docker import TOOL_LABEL, BackupError, CommandTimeout, remove_container, remove_volume, run
from .owner import require_own, restic_owner, restic_tag
from .quiesce import writers_paused

VERIFIED_TAG = 'verified'
_MOUNT = '/volumes'


def restic_argv(cfg, mounts=(), name=None, entrypoint=None, env=None, command='run'):
    """docker run (or `command`: create) of the restic image, with the repository and its secrets."""
    rst = cfg.restic
    network = rst.get('network') or ('none' if rst.get('repo_path') else 'bridge')
    argv = [
        'docker',
        command,
        '--rm',
        '--label',
        '%s=%s' % (TOOL_LABEL, cfg.project),
        '--network',
        network,
        '-e',
        'RESTIC_REPOSITORY=%s' % (rst.get('repository') or '/repo'),
        '-e',
        'RESTIC_PASSWORD_FILE=/run/secrets/restic-password',
        '-e',
        'RESTIC_CACHE_DIR=/tmp/restic-cache',
        '-v',
        '%s:/run/secrets/restic-password:ro' % rst['password_file'],
    ]
    if rst.get('repo_path'):
        argv += ['-v', '%s:/repo' % rst['repo_path']]
    if rst.get('env_file'):
        argv += ['--env-file', rst['env_file']]
    for mount in mounts:
        argv += ['-v', mount]
    for key, value in sorted((env or {}).items()):
        argv += ['-e', '%s=%s' % (key, value)]
    if name:
        argv += ['--name', name]
    if entrypoint:
        argv += ['--entrypoint', entrypoint]
    return argv + [rst['image']]


def restic(cfg, args, mounts=(), timeout=None, check=True):
    return run(restic_argv(cfg, mounts) + args, timeout=timeout, check=check)


def init(cfg):
    """Create the repository unless it exists. Returns True when it was created."""
    rc, _out, _err = restic(cfg, ['cat', 'config'], check=False)
    if rc == 0:
        return False
    restic(cfg, ['init'])
    return True


def host(cfg):
    """restic's host name of this project's snapshots (backup_restic_host)."""
    return cfg.restic.get('host') or cfg.project


def volume_path(volume):
    return '%s/%s' % (_MOUNT, volume)


def require_volume(volume):
    rc, _out, _err = run(['docker', 'volume', 'inspect', volume], check=False)
    if rc != 0:
        raise BackupError(
            'volume %s does not exist: fix backup_restic_volumes (docker volume ls lists the names)' % volume
        )


def backup_volumes(cfg):
    """One snapshot per volume; forget by retention only when every volume succeeded. Returns (ids, bytes added)."""
    ids, added = [], 0
    snapshots(cfg)  # refuses a repository where another writer uses our host name
    for volume in cfg.restic['volumes']:
        require_volume(volume)
        out = _read_volume(cfg, volume)
        summary = [json.loads(line) for line in out.splitlines() if '"summary"' in line]
        if not summary:
            raise BackupError('restic backup of %s printed no summary: %s' % (volume, out.strip()[-300:]))
        ids.append(summary[-1]['snapshot_id'][:8])
        added += int(summary[-1].get('data_added', 0))
    snapshots(cfg)  # again: a writer that started beside us must not be forgotten by our retention
    forget(cfg)
    return ids, added


def _read_volume(cfg, volume):
    """restic's JSON lines of one volume's backup; the volume's writers paused for it where configured."""
    args = ['backup', '--json', '--host', host(cfg), '--tag', 'volume=%s' % volume, '--tag', restic_tag(cfg.owner)]
    args.append(volume_path(volume))
    mounts = ['%s:%s:ro' % (volume, volume_path(volume))]
    if volume not in cfg.restic.get('quiesce', []):
        return restic(cfg, args, mounts=mounts)[1]
    limit = int(cfg.restic.get('quiesce_limit', 300))
    reader = '%s-restic-%d' % (cfg.project, os.getpid())
    run(restic_argv(cfg, mounts, name=reader, command='create') + args)
    try:
        with writers_paused(volume, reader, limit) as writers:
            return run(['docker', 'start', '--attach', reader], timeout=limit if writers else None)[1]
    except CommandTimeout:
        raise BackupError(
            'restic did not read volume %s within backup_restic_quiesce_limit (%d s) while its writers were paused:'
            ' they run again and no snapshot was kept; raise the limit, or take the volume out of'
            ' backup_restic_quiesce_volumes' % (volume, limit)
        ) from None


def forget(cfg):
    keep = cfg.restic['keep']
    args = ['forget', '--host', host(cfg), '--group-by', 'host,paths', '--keep-tag', VERIFIED_TAG, '--prune']
    for period in ('daily', 'weekly', 'monthly'):
        args += ['--keep-%s' % period, str(keep[period])]
    restic(cfg, args)


def snapshots(cfg, volume=None):
    """The project's snapshots (of one volume), oldest first; refused when another writer shares our host name."""
    args = ['snapshots', '--json', '--host', host(cfg)]
    if volume:
        args += ['--path', volume_path(volume)]
    _rc, out, _err = restic(cfg, args)
    found = json.loads(out) or []
    what = 'the restic repository, host name %s,' % host(cfg)
    require_own([restic_owner(snap) for snap in found], cfg, what, 'backup_restic_host')
    return sorted(found, key=lambda snap: snap['time'])


def resolve(cfg, wanted=None):
    """The snapshots to check: one by id, or the latest of every configured volume."""
    if wanted and wanted != 'latest':
        found = [snap for snap in snapshots(cfg) if snap['id'].startswith(wanted) or snap['short_id'] == wanted]
        if not found:
            raise BackupError('no restic snapshot %s in the repository' % wanted)
        return found[:1]
    latest = []
    for volume in cfg.restic['volumes']:
        snaps = snapshots(cfg, volume)
        if not snaps:
            raise BackupError(
                'the restic repository has no snapshot of %s yet: run backup.yml -e backup_kind=volumes' % volume
            )
        latest.append(snaps[-1])
    return latest


def snapshot_files(cfg, snapshot_id):
    """(regular files, their bytes) the snapshot's tree lists: what a restore must bring back."""
    _rc, out, _err = restic(cfg, ['ls', '--json', snapshot_id])
    nodes = [json.loads(line) for line in out.splitlines() if line.strip()]
    files = [node for node in nodes if node.get('struct_type') == 'node' and node.get('type') == 'file']
    return len(files), sum(int(node.get('size', 0)) for node in files)


# Restore into the container's own /restore, let restic re-read every file
# against the snapshot (--verify), then count what is there.
_DRILL = (
    'restic restore "$SNAPSHOT" --target /restore --verify >/dev/null && '
    'echo "files $(find /restore -type f | wc -l) '
    '$(find /restore -type f -printf "%s\\n" | awk "{s+=\\$1} END {print s+0}")"'
)


def verify(cfg, wanted=None):
    """restic check with a read-data subset, then a restore drill of each snapshot compared with restic's stats."""
    report = {
        'kind': 'restic',
        'steps': [],
        'mismatches': [],
        'snapshots': [],
        'checked': [
            'restic check --read-data-subset=%s' % cfg.restic.get('check_subset', '10%'),
            'restore --verify',
            'file count and size',
        ],
    }
    chosen = resolve(cfg, wanted)
    report['id'] = ','.join(snap['short_id'] for snap in chosen)
    started = time.time()
    subset = cfg.restic.get('check_subset', '10%')
    rc, out, err = restic(cfg, ['check', '--read-data-subset=%s' % subset], timeout=cfg.drill_timeout, check=False)
    if rc != 0:
        problems = [line.strip() for line in (out + err).splitlines() if line.strip()][-6:]
        raise BackupError('restic check found problems in the repository: %s' % ' | '.join(problems), report)
    report['steps'].append({'step': 'integrity', 'seconds': round(time.time() - started, 3)})
    for snap in chosen:
        started = time.time()
        files, size = snapshot_files(cfg, snap['id'])
        name = cfg.drill_name('restic')
        try:
            argv = restic_argv(cfg, name=name, entrypoint='sh', env={'SNAPSHOT': snap['id']})
            _rc, out, _err = run(argv + ['-c', _DRILL], timeout=cfg.drill_timeout)
        finally:
            remove_container(name)
        _word, got_files, got_size = out.split()[-3:]
        if (int(got_files), int(got_size)) != (files, size):
            report['mismatches'].append(
                'snapshot %s restored %s files / %s bytes, the snapshot holds %d / %d'
                % (snap['short_id'], got_files, got_size, files, size)
            )
        report['snapshots'].append({'id': snap['short_id'], 'paths': snap['paths'], 'files': files, 'bytes': size})
        report['steps'].append({'step': 'restore %s' % snap['short_id'], 'seconds': round(time.time() - started, 3)})
    return report


def mark_verified(cfg, snapshot_ids):
    """Tag the verified snapshots and untag the earlier verified ones of the same path; returns the new ids.

    restic rewrites a snapshot it tags under a new id; the tree and time stay.
    """
    tagged = []
    for snap in [s for s in snapshots(cfg) if s['short_id'] in snapshot_ids]:
        if VERIFIED_TAG not in (snap.get('tags') or []):
            restic(cfg, ['tag', '--add', VERIFIED_TAG, snap['id']])
        same_path = [s for s in snapshots(cfg) if s['paths'] == snap['paths'] and VERIFIED_TAG in (s.get('tags') or [])]
        kept = next(s for s in same_path if (s['tree'], s['time']) == (snap['tree'], snap['time']))
        for other in same_path:
            if other['id'] != kept['id']:
                restic(cfg, ['tag', '--remove', VERIFIED_TAG, other['id']])
        tagged.append(kept['short_id'])
    return tagged


def restore_volume(cfg, volume, wanted=None):
    """Replace a volume's contents with a snapshot: restored and verified in a scratch volume first."""
    require_volume(volume)
    snaps = snapshots(cfg, volume)
    if wanted and wanted != 'latest':
        snaps = [s for s in snaps if s['id'].startswith(wanted) or s['short_id'] == wanted]
    if not snaps:
        raise BackupError('no restic snapshot %s of volume %s' % (wanted or 'at all', volume))
    snap = snaps[-1]
    scratch = '%s-restore-%d' % (volume, int(time.time()))
    run(['docker', 'volume', 'create', scratch])
    restic(cfg, ['restore', snap['id'], '--target', '/', '--verify'], mounts=['%s:%s' % (scratch, volume_path(volume))])
    # The copy keeps owners, modes and times; only after it succeeded is the scratch copy dropped.
    run(
        [
            'docker',
            'run',
            '--rm',
            '--network',
            'none',
            '-v',
            '%s:/from:ro' % scratch,
            '-v',
            '%s:/to' % volume,
            '--entrypoint',
            'sh',
            cfg.restic['image'],
            '-c',
            'find /to -mindepth 1 -delete && cp -a /from/. /to/',
        ]
    )
    remove_volume(scratch)
    return snap['short_id']
