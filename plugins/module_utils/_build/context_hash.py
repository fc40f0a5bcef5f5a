# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. It fingerprints what a build depends on: the build context as
# the builder sees it (after .dockerignore), the Dockerfile, the target, the
# build arguments, the labels and the base images.

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import zlib

from ansible_collections.auraspeak.ops.plugins.module_utils._build.dockerignore import IgnoreRules

CHUNK_SIZE = 1024 * 1024
# File digests kept in the image label are shortened: they only need to tell
# which file changed, the full input hash decides whether to rebuild.
MANIFEST_DIGEST_LENGTH = 16
# A context manifest larger than this is not stored in a label (diff then names
# the changed input kinds only).
MANIFEST_LABEL_LIMIT = 16 * 1024


def sha256_text(text):
    return 'sha256:' + hashlib.sha256(text.encode('utf-8')).hexdigest()


def file_digest(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(CHUNK_SIZE), b''):
            digest.update(chunk)
    return digest.hexdigest()


def ignore_file_for(context, dockerfile):
    """The ignore file BuildKit applies: <Dockerfile>.dockerignore beside the Dockerfile wins."""
    specific = dockerfile + '.dockerignore'
    if os.path.isfile(specific):
        return specific
    default = os.path.join(context, '.dockerignore')
    if os.path.isfile(default):
        return default
    return None


def load_ignore_rules(context, dockerfile):
    path = ignore_file_for(context, dockerfile)
    if path is None:
        return IgnoreRules()
    with open(path, encoding='utf-8') as handle:
        return IgnoreRules.from_text(handle.read())


def context_manifest(context, rules):
    """Map each path the builder would receive to a short description of it.

    Directories, regular files (content digest) and symlinks (their target) are
    recorded with their permission bits, since COPY preserves all three.
    """
    manifest = {}
    for dirpath, dirnames, filenames in os.walk(context):
        reldir = os.path.relpath(dirpath, context).replace(os.sep, '/')
        reldir = '' if reldir == '.' else reldir + '/'
        kept_dirs = []
        for name in sorted(dirnames):
            relpath = reldir + name
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                filenames.append(name)
                continue
            if rules.is_ignored(relpath):
                if rules.can_prune(relpath):
                    continue
            else:
                manifest[relpath] = 'd %o' % (os.lstat(full).st_mode & 0o7777)
            kept_dirs.append(name)
        dirnames[:] = kept_dirs
        for name in sorted(filenames):
            relpath = reldir + name
            if rules.is_ignored(relpath):
                continue
            entry = _describe(os.path.join(dirpath, name))
            if entry is not None:
                manifest[relpath] = entry
    return manifest


def _describe(path):
    info = os.lstat(path)
    mode = info.st_mode & 0o7777
    if stat.S_ISLNK(info.st_mode):
        return 'l %o %s' % (mode, os.readlink(path))
    if stat.S_ISREG(info.st_mode):
        return 'f %o %s' % (mode, file_digest(path))
    return None  # sockets, fifos and devices are not sent to the builder


def manifest_digest(manifest):
    return sha256_text('\n'.join('%s\0%s' % item for item in sorted(manifest.items())))


def input_components(manifest, dockerfile_text, target, build_args, labels, base_images):
    """The digest of each kind of build input, by name."""
    return {
        'context': manifest_digest(manifest),
        'dockerfile': sha256_text(dockerfile_text),
        'target': sha256_text(target or ''),
        'build_args': sha256_text(json.dumps(build_args or {}, sort_keys=True)),
        'labels': sha256_text(json.dumps(labels or {}, sort_keys=True)),
        'base_images': sha256_text(json.dumps(base_images or {}, sort_keys=True)),
    }


def combined_hash(components):
    return sha256_text(json.dumps(components, sort_keys=True))


def changed_components(before, after):
    """Names of the input kinds whose digest differs (all of them when before is unknown)."""
    if not before:
        return sorted(after)
    return sorted(name for name in after if before.get(name) != after[name])


def short_manifest(manifest):
    """Manifest with truncated digests, as stored in the image label."""
    short = {}
    for path, entry in manifest.items():
        kind, _sep, rest = entry.partition(' ')
        if kind == 'f':
            mode, _sep, digest = rest.partition(' ')
            entry = 'f %s %s' % (mode, digest[:MANIFEST_DIGEST_LENGTH])
        short[path] = entry
    return short


def encode_manifest(manifest):
    """Compress a short manifest for a label; None when it would be too large."""
    raw = json.dumps(short_manifest(manifest), sort_keys=True, separators=(',', ':'))
    encoded = base64.b64encode(zlib.compress(raw.encode('utf-8'), 9)).decode('ascii')
    if len(encoded) > MANIFEST_LABEL_LIMIT:
        return None
    return encoded


def decode_manifest(encoded):
    if not encoded:
        return None
    try:
        return json.loads(zlib.decompress(base64.b64decode(encoded)).decode('utf-8'))
    except (ValueError, zlib.error):
        return None


def changed_files(before, after):
    """Paths added, removed or modified between two short manifests."""
    before_short = before or {}
    after_short = short_manifest(after)
    paths = set(before_short) | set(after_short)
    return sorted(p for p in paths if before_short.get(p) != after_short.get(p))
