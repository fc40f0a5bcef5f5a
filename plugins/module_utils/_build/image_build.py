# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. It holds the logic of the image_build module: fingerprint the
# inputs, compare with the labels of the image the tags point at, then build,
# tag, or do nothing.

from __future__ import annotations

import datetime
import json
import os
import tempfile
import time

from ansible_collections.auraspeak.ops.plugins.module_utils._build import context_hash as ch
from ansible_collections.auraspeak.ops.plugins.module_utils._build.build_log import failed_step
from ansible_collections.auraspeak.ops.plugins.module_utils._common.docker_cli import DockerCLI, DockerCLIError, tail
from ansible_collections.auraspeak.ops.plugins.module_utils._common.engine import Engine
from ansible_collections.auraspeak.ops.plugins.module_utils._build.dockerfile import DockerfileInfo
from ansible_collections.auraspeak.ops.plugins.module_utils._common.image_ref import InvalidReference, split_reference
from ansible_collections.auraspeak.ops.plugins.module_utils._build.source_info import source_labels

LABEL_INPUT_HASH = 'io.auraspeak.ops.input-hash'
LABEL_INPUTS = 'io.auraspeak.ops.inputs'
LABEL_MANIFEST = 'io.auraspeak.ops.context-manifest'
OCI_CREATED = 'org.opencontainers.image.created'


class BuildError(Exception):
    """A build ran and failed; details are returned to the user."""

    def __init__(self, msg, **details):
        super().__init__(msg)
        self.msg = msg
        self.details = details


class InputError(Exception):
    """Bad module input, found before anything ran."""


class ImageBuilder:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.started = time.monotonic()
        self.context = os.path.abspath(self.params['path'])
        self.dockerfile = self._resolve_dockerfile()
        self.tags = self._validated_tags()
        self.dockerfile_text = _read_text(self.dockerfile)
        self.build_args = {k: str(v) for k, v in (self.params['build_args'] or {}).items()}
        self.info = DockerfileInfo(self.dockerfile_text, self.build_args)
        self._check_target()
        self._check_secrets()
        self.docker = DockerCLI(module)  # buildx
        self.engine = Engine.from_module(module)  # everything else

    # -- input checks -----------------------------------------------------

    def _resolve_dockerfile(self):
        if not os.path.isdir(self.context):
            raise InputError(
                "path '%s' is not a directory: set path to the build context directory" % self.params['path']
            )
        dockerfile = self.params['dockerfile']
        resolved = dockerfile if os.path.isabs(dockerfile) else os.path.join(self.context, dockerfile)
        if not os.path.isfile(resolved):
            raise InputError(
                "dockerfile '%s' was not found (looked at %s): set dockerfile to a path "
                'relative to path, or to an absolute path' % (dockerfile, resolved)
            )
        return resolved

    def _validated_tags(self):
        tags = self.params['tags']
        if not tags:
            raise InputError('tags is empty: give at least one name:tag; the first is the primary tag')
        for index, tag in enumerate(tags):
            try:
                split_reference(tag)
            except InvalidReference as exc:
                raise InputError('tags[%d] is not a valid image reference: %s' % (index, exc)) from None
        return list(tags)

    def _check_target(self):
        target = self.params['target']
        if target and not self.info.has_stage(target):
            names = ', '.join(self.info.stage_names) or 'none (no FROM ... AS <name>)'
            raise InputError(
                "target '%s' is not a stage of %s: its named stages are %s" % (target, self.dockerfile, names)
            )

    def _check_secrets(self):
        for secret in self.params['secrets'] or []:
            src = secret.get('src')
            if src and not os.path.isfile(src):
                raise InputError(
                    "secrets: the file '%s' of secret '%s' does not exist: set src to a "
                    'readable file or pass value instead' % (src, secret['id'])
                )

    # -- planning ---------------------------------------------------------

    def current_state(self):
        """Inspect data of each tag and base image (None when absent), one engine API call each."""
        return self.engine.inspect_images(self.tags + self.info.external_refs)

    def fingerprint(self, state):
        rules = ch.load_ignore_rules(self.context, self.dockerfile)
        manifest = ch.context_manifest(self.context, rules)
        bases = {ref: state[ref]['Id'] if state[ref] else 'absent' for ref in self.info.external_refs}
        components = ch.input_components(
            manifest, self.dockerfile_text, self.params['target'], self.build_args, self.params['labels'], bases
        )
        return manifest, components, ch.combined_hash(components)

    def plan(self, state, input_hash):
        primary = state[self.tags[0]]
        primary_hash = _labels(primary).get(LABEL_INPUT_HASH)
        if self.params['force']:
            return 'build', 'force is set'
        if primary is None:
            return 'build', 'no image is tagged %s' % self.tags[0]
        if primary_hash != input_hash:
            return 'build', 'the inputs changed' if primary_hash else 'the image was not built by image_build'
        stale = [t for t in self.tags[1:] if state[t] is None or state[t]['Id'] != primary['Id']]
        if stale:
            return 'tag', 'tags %s do not point at the image yet' % ', '.join(stale)
        return 'none', 'the image is up to date'

    # -- actions ----------------------------------------------------------

    def run(self):
        state = self.current_state()
        manifest, components, input_hash = self.fingerprint(state)
        action, reason = self.plan(state, input_hash)
        primary = state[self.tags[0]]
        previous = _labels(primary)
        result = {
            'changed': action != 'none',
            'operation': action,
            'reason': reason,
            'tags': self.tags,
            'input_hash': input_hash,
            'changed_inputs': ch.changed_components(_json_label(previous, LABEL_INPUTS), components)
            if action == 'build'
            else [],
        }
        previous_manifest = ch.decode_manifest(previous.get(LABEL_MANIFEST))
        if action == 'build' and previous_manifest is not None:
            result['changed_files'] = ch.changed_files(previous_manifest, manifest)
        if self.module._diff:
            result['diff'] = self._diff(previous, components, previous_manifest, manifest)
        if self.module.check_mode or action == 'none':
            image = primary
        elif action == 'tag':
            self._tag(primary['Id'], state)
            image = primary
        else:
            image = self._build(manifest, components, input_hash)
        result.update(
            image_id=image['Id'] if image else None,
            size=image['Size'] if image else None,
            duration=round(time.monotonic() - self.started, 3),
        )
        return result

    def _tag(self, image_id, state):
        for tag in self.tags[1:]:
            if state[tag] is None or state[tag]['Id'] != image_id:
                self.engine.tag(image_id, tag)

    def _build(self, manifest, components, input_hash):
        self.docker.ensure_buildx()
        labels = self._labels(manifest, components, input_hash)
        with tempfile.TemporaryDirectory(prefix='auraspeak-build-') as tmp:
            iidfile = os.path.join(tmp, 'iid')
            args, env = self._build_command(labels, iidfile)
            rc, out, err = self.docker.run(args, check=False, extra_env=env)
            if rc != 0:
                self._raise_build_error(args, rc, out, err)
            with open(iidfile, encoding='ascii') as handle:
                image_id = handle.read().strip()
        return self.engine.inspect_image(image_id)

    def _labels(self, manifest, components, input_hash):
        labels = (
            source_labels(self.context, self.tags[0], self.module.get_bin_path('git'), self.module.run_command)
            if self.params['oci_labels']
            else {}
        )
        if self.params['oci_labels']:
            labels[OCI_CREATED] = datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%dT%H:%M:%SZ')
        labels.update(self.params['labels'] or {})
        labels[LABEL_INPUT_HASH] = input_hash
        labels[LABEL_INPUTS] = json.dumps(components, sort_keys=True, separators=(',', ':'))
        encoded = ch.encode_manifest(manifest)
        if encoded:
            labels[LABEL_MANIFEST] = encoded
        return labels

    def _build_command(self, labels, iidfile):
        args = ['buildx', 'build', '--progress=plain', '--file', self.dockerfile, '--iidfile', iidfile]
        if self.params['target']:
            args += ['--target', self.params['target']]
        for key in sorted(self.build_args):
            args += ['--build-arg', '%s=%s' % (key, self.build_args[key])]
        for key in sorted(labels):
            args += ['--label', '%s=%s' % (key, labels[key])]
        for tag in self.tags:
            args += ['--tag', tag]
        if self.params['pull']:
            args.append('--pull')
        if self.params['no_cache']:
            args.append('--no-cache')
        for source in self.params['cache_from'] or []:
            args += ['--cache-from', source]
        env = {}
        for index, secret in enumerate(self.params['secrets'] or []):
            if secret.get('src'):
                args += ['--secret', 'id=%s,src=%s' % (secret['id'], secret['src'])]
            else:
                variable = 'AURASPEAK_BUILD_SECRET_%d' % index
                env[variable] = secret['value']
                args += ['--secret', 'id=%s,env=%s' % (secret['id'], variable)]
        args.append(self.context)
        return args, env

    def _raise_build_error(self, args, rc, out, err):
        log = (out or '') + '\n' + (err or '')
        step = failed_step(log)
        where = step['step'] or 'before any step ran'
        raise BuildError(
            'the build of %s failed at %s: %s' % (self.tags[0], where, step['error']),
            failed_step=step['step'],
            dockerfile_line=step['dockerfile_line'],
            step_output=step['output'],
            log_tail=tail(log, 40),
            cmd=args,
            rc=rc,
        )

    def _diff(self, previous, components, previous_manifest, manifest):
        before = {'input_hash': previous.get(LABEL_INPUT_HASH), 'inputs': _json_label(previous, LABEL_INPUTS) or {}}
        after = {'input_hash': ch.combined_hash(components), 'inputs': components}
        if previous_manifest is not None:
            paths = ch.changed_files(previous_manifest, manifest)
            short = ch.short_manifest(manifest)
            before['changed_files'] = {p: previous_manifest.get(p) for p in paths}
            after['changed_files'] = {p: short.get(p) for p in paths}
        return {'before': before, 'after': after}


def run_image_build(module):
    """Entry point used by the module: returns (failed, result)."""
    try:
        builder = ImageBuilder(module)
        return False, builder.run()
    except InputError as exc:
        return True, {'msg': str(exc)}
    except DockerCLIError as exc:
        return True, exc.as_result()
    except BuildError as exc:
        result = {'msg': exc.msg}
        result.update(exc.details)
        return True, result


def _labels(image):
    if not image:
        return {}
    return (image.get('Config') or {}).get('Labels') or {}


def _json_label(labels, key):
    try:
        return json.loads(labels[key])
    except (KeyError, TypeError, ValueError):
        return None


def _read_text(path):
    with open(path, encoding='utf-8') as handle:
        return handle.read()
