# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. It holds the logic of the compose_deploy module: read the
# wanted state (compose config and hashes) and the live one (containers, ledger),
# plan, then - outside check mode - carry the plan out under the deploy lock and
# record the release.

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
import tempfile
import time

from ansible_collections.auraspeak.ops.plugins.module_utils._analysis.canary import check_steps
from ansible_collections.auraspeak.ops.plugins.module_utils._analysis.sources import check_source, open_source
from ansible_collections.auraspeak.ops.plugins.module_utils._analysis.verdict import THRESHOLD_OPTIONS
from ansible_collections.auraspeak.ops.plugins.module_utils._common.clock import utc_now
from ansible_collections.auraspeak.ops.plugins.module_utils._common.docker_cli import DockerCLI, DockerCLIError
from ansible_collections.auraspeak.ops.plugins.module_utils._common.engine import Engine
from ansible_collections.auraspeak.ops.plugins.module_utils._common.files import write_atomic, write_json
from ansible_collections.auraspeak.ops.plugins.module_utils._common.image_ref import InvalidReference, split_reference
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy import ledger
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.compose_cli import ComposeProject
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.containers import project_containers
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.edge_upstream import EdgeUpstream, upstream_name
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.lock_holder import DeployLockError, held_lock
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.plan import ROLLING, ServiceSpec, plan_services
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.project_files import ProjectFiles, ProjectFilesError
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.retention import prune_images
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.rollout import DeployFailed, EdgeSwitch, Rollout
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.secret_mask import mask_config, mask_values


class InputError(Exception):
    """Bad module input, found before anything changed."""


# An hour: longer waits are a mistake (a unit in minutes or milliseconds), not a plan.
TIMEOUT_LIMIT = 3600


class ComposeDeployer:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.started = time.monotonic()
        self.name = self.params['project']
        self.state_dir = os.path.join(self.params['state_dir'], self.name)
        self.docker = DockerCLI(module)  # compose
        self.engine = Engine.from_module(module)  # everything else
        self.ledger = ledger.ReleaseLedger(os.path.join(self.state_dir, 'releases.json'))
        self.project_files = self._project_files()
        self.files_report = {}
        self.stopped_removed = {}  # the rollout's, for a failed run to create again
        self.stopped_recreated = {}
        self.edge = None
        self.lock_check = None  # the deploy lock's heartbeat check, once the lock is held
        self._check_version_string()
        self._check_timeouts()
        self._check_analysis()

    def _project_files(self):
        stage = self.params['stage_dir']
        if not stage:
            return None
        if not self.params['project_dir']:
            raise InputError('stage_dir needs project_dir: the directory the staged files are installed into')
        if not os.path.isdir(stage):
            raise InputError("stage_dir: '%s' is not a directory on the host: render the project into it first" % stage)
        journal = os.path.join(self.state_dir, 'files-journal.json')
        return ProjectFiles(self.params['project_dir'], journal)

    def _check_timeouts(self):
        edge = self.params['edge'] or {}
        for option, value, low, high in (
            ('health_timeout', self.params['health_timeout'], 1, TIMEOUT_LIMIT),
            ('drain_timeout', self.params['drain_timeout'], 0, TIMEOUT_LIMIT),
            ('edge.reload_timeout', edge.get('reload_timeout', 1), 1, 300),
        ):
            if not low <= value <= high:
                raise InputError('%s is %d s: it must be from %d to %d s' % (option, value, low, high))

    def _check_version_string(self):
        try:
            split_reference('release:' + self.params['version'])
        except InvalidReference:
            raise InputError(
                "version '%s' is not a valid release: use letters, digits, '_', '.', '-' "
                "(not starting with '.' or '-', at most 128), as in an image tag" % self.params['version']
            ) from None

    # -- reading the wanted and the live state -------------------------------

    def _project(self, files, project_dir=None):
        project_dir = project_dir or self.params['project_dir'] or os.path.dirname(os.path.abspath(files[0]))
        return ComposeProject(self.docker, self.name, files, project_dir, self.params['env_files'])

    def _services(self, config):
        """ServiceSpec per service of the project, with the options' strategies."""
        options = {s['name']: s for s in self.params['services']}
        known = sorted(config.get('services') or {})
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise InputError(
                'services: %s %s not in the compose project %s, which has %s: fix the name or the compose files'
                % (
                    ', '.join("'%s'" % u for u in unknown),
                    'is' if len(unknown) == 1 else 'are',
                    self.name,
                    ', '.join(known),
                )
            )
        return options, known

    def _replicas(self, service_config, name):
        deploy = service_config.get('deploy') or {}
        replicas = deploy.get('replicas', service_config.get('scale', 1))
        if replicas is None:
            replicas = 1
        if int(replicas) < 1:
            raise InputError('service %s has %s replicas: a deployed service needs at least 1' % (name, replicas))
        return int(replicas)

    def _specs(self, config, hashes, image_ids):
        options, known = self._services(config)
        specs = []
        for name in known:
            service_config = config['services'][name]
            option = options.get(name, {})
            strategy = option.get('strategy') or 'recreate'
            if strategy == ROLLING:
                self._check_rolling(name, service_config, option)
            specs.append(
                ServiceSpec(
                    name,
                    strategy,
                    self._replicas(service_config, name),
                    hashes.get(name),
                    image_ids.get(name),
                    port=option.get('port'),
                    upstream=option.get('upstream') or upstream_name(self.name, name),
                    readiness_path=option.get('readiness_path') if strategy == ROLLING else None,
                    health_path=option.get('health_path') if strategy == ROLLING else None,
                )
            )
        return specs

    def _check_rolling(self, name, service_config, option):
        if service_config.get('container_name'):
            raise InputError(
                'service %s sets container_name: a rolling deploy runs old and new containers side by side, '
                'which needs the names Compose numbers; remove container_name' % name
            )
        for key in ('health_path', 'readiness_path'):
            path = option.get(key)
            if path and (not path.startswith('/') or not option.get('port')):
                raise InputError(
                    "services: %s has %s %r: it must start with '/' and the service needs its port "
                    '(where the path is asked)' % (name, key, path)
                )
        if self.params['edge'] and not option.get('port'):
            raise InputError(
                'services: %s is rolling behind the edge: set its port (the container port to send traffic to)' % name
            )

    def _image_ids(self, config):
        refs = {name: svc.get('image') for name, svc in (config.get('services') or {}).items() if svc.get('image')}
        for name, ref in refs.items():
            try:
                split_reference(ref)
            except InvalidReference as exc:
                raise InputError('service %s: image %s' % (name, exc)) from None
        found = self.engine.inspect_images(refs.values())
        return {name: (found[ref] or {}).get('Id') for name, ref in refs.items()}, refs

    # -- the module's run ------------------------------------------------------

    def run(self):
        files, cleanup = self._compose_files()
        try:
            if self.module.check_mode:
                return self._run(self._planned_project(files))
            with held_lock(
                self.state_dir, self.params['lock_holder'], self.params['lock_stale_after'], self.module.warn
            ) as heartbeat:
                self.lock_check = heartbeat.check
                return self._run_installed(files)
        finally:
            cleanup()

    def _run_installed(self, files):
        """Install the staged files, deploy from them, and switch them back if the release does not go live."""
        self._repair_files()
        previous = self._install_files()
        try:
            result = self._run(self._project(files))
        except BaseException as exc:
            if self.files_report.get('state') == 'installed':
                self.project_files.restore(previous)
                self.files_report['state'] = 'restored'
                self._note_recreated(getattr(exc, 'details', {}).get('actions') or {})
            self._recreate_stopped(files)
            raise
        if self.files_report.get('state') == 'installed':
            self.project_files.keep()
        return result

    def _run(self, project):
        project.ensure_version()
        config = project.config()
        hashes = project.config_hashes(config)
        image_ids, image_refs = self._image_ids(config)
        missing = sorted(name for name, image_id in image_ids.items() if image_id is None)
        to_build = []
        if self.module.check_mode:
            # The play's build only planned: those images are new ones, not missing ones.
            to_build = sorted({image_refs[m] for m in missing} & set(self.params['images_to_build']))
            missing = [m for m in missing if image_refs[m] not in to_build]
        if missing and self.params['pull'] == 'never':
            raise InputError(
                'images not on the host: %s; build or load them first, or set pull=missing'
                % ', '.join('%s (%s)' % (image_refs[m], m) for m in missing)
            )
        if missing and not self.module.check_mode:
            project.pull(missing)
            image_ids, image_refs = self._image_ids(config)
        specs = self._specs(config, hashes, image_ids)
        self._check_migration(specs)
        containers = project_containers(self.engine, self.name)
        plans = plan_services(specs, containers)
        edge = self.edge = self._edge(specs)
        data = self.ledger.read()
        current = ledger.current(data)
        config_hash = _release_hash(hashes, image_ids)
        record = (
            current is None or current['version'] != self.params['version'] or current['config_hash'] != config_hash
        )
        live = {s.name: plans[s.name].keep for s in specs if s.strategy == ROLLING}
        edge_drift = bool(edge) and not any(p.changes for p in plans.values()) and not edge.is_current(live)
        masked = mask_config(config, self.params['secret_env_patterns'], self.params['secret_values'])
        result = {
            'version': self.params['version'],
            'previous_version': current['version'] if current else None,
            'plan': {name: plan.as_dict() for name, plan in plans.items()},
            'canary_steps': self._checked_canary_plan(plans),
            'images_to_build': to_build,
            'files': self.files_report,
            'changed': record or edge_drift or any(p.changes for p in plans.values()),
        }
        if self.module._diff:
            # Masked again: a configuration saved before a secret was declared may still hold it.
            result['diff'] = {'before': mask_values(self._last_config(), self.params['secret_values']), 'after': masked}
        if not self.module.check_mode:
            result.update(self._deploy(project, plans, edge, record, config_hash, image_ids, image_refs, masked))
        result['changed'] = result['changed'] or self.files_report.get('state') in ('to_install', 'installed')
        result.setdefault('durations', {})['total'] = round(time.monotonic() - self.started, 2)
        return result

    def _deploy(self, project, plans, edge, record, config_hash, image_ids, image_refs, masked):
        release_id = None
        closed = []
        if record:
            release_id = self._start_release(config_hash, image_ids, image_refs)
            if self.files_report.get('state') == 'installed':
                self.project_files.note_release(release_id)
        else:
            closed = self._close_interrupted()
        edge_before = edge.snapshot() if edge else None
        rollout = Rollout(self.engine, project, edge, self._rollout_settings())
        self.stopped_removed = rollout.stopped_removed
        try:
            live = rollout.run(plans)
        except DeployFailed as exc:
            if release_id:
                self._finish(release_id, exc.status, exc.reason, exc.details.get('analysis'))
            exc.details.update(
                actions=rollout.actions,
                durations=rollout.durations,
                release_id=release_id,
                edge_restored=edge.restore(edge_before) if edge else False,
            )
            raise
        except BaseException as exc:
            if release_id:
                self._finish(release_id, 'failed', 'unexpected error: %s' % exc)
            if edge:
                edge.restore(edge_before)
            raise
        if release_id:
            self._finish(release_id, 'active', None, rollout.actions.get('analysis'))
        self._save_last_config(masked)
        pruned = prune_images(self.engine, self.ledger.read(), self.params['keep_releases'], self.module.warn)
        return {
            'release_id': release_id,
            'actions': rollout.actions,
            'durations': dict(rollout.durations),
            'containers': {name: [c.name for c in items] for name, items in live.items()},
            'pruned_images': pruned,
            'analysis': rollout.actions.get('analysis'),
            'changed': bool(record or closed or rollout.actions or (edge and edge.changed) or pruned),
        }

    def _close_interrupted(self):
        """A re-run of the live release records no new entry, but ends those a killed run left 'deploying'."""
        if not any(e['status'] == 'deploying' for e in self.ledger.read()['releases']):
            return []
        with self.ledger.transaction() as data:
            return self._mark_interrupted(data)

    def _mark_interrupted(self, data):
        interrupted = ledger.mark_interrupted(data, utc_now())
        if interrupted:
            self.module.warn('releases %s of %s were interrupted before they finished' % (interrupted, self.name))
        return interrupted

    def _start_release(self, config_hash, image_ids, image_refs):
        with self.ledger.transaction() as data:
            self._mark_interrupted(data)
            return ledger.start_release(
                data,
                version=self.params['version'],
                images={name: {'ref': image_refs[name], 'id': image_ids[name]} for name in image_refs},
                config_hash=config_hash,
                deployed_by=self.params['deployed_by'] or '%s@%s' % (getpass.getuser(), socket.gethostname()),
                now=utc_now(),
                kind=self.params['kind'],
            )

    def _finish(self, release_id, status, reason, analysis=None):
        with self.ledger.transaction() as data:
            ledger.finish_release(data, release_id, status=status, now=utc_now(), reason=reason, analysis=analysis)

    def _rollout_settings(self):
        return {
            'health_timeout': self.params['health_timeout'],
            'drain_timeout': self.params['drain_timeout'],
            'migrate': self.params['migrate'],
            'run_host_command': self.module.run_command,
            'warn': self.module.warn,
            'analysis': self._analysis_settings(),
            'lock_check': self.lock_check,
        }

    def _analysis_settings(self):
        """The canary settings for the rollout, or None when no analysis runs."""
        analysis = self.params['analysis']
        if not analysis or not analysis['enabled'] or not self.params['edge'] or not analysis['steps']:
            return None
        edge_container = self.params['edge']['container']
        settings = {
            key: analysis[key] for key in ('steps', 'interval', 'max_interval', 'low_traffic', 'poll', 'warmup')
        }
        settings['thresholds'] = {key: analysis[key] for key in THRESHOLD_OPTIONS}
        settings['source'] = lambda since: open_source(analysis, self.engine, edge_container, since)
        return settings

    def _checked_canary_plan(self, plans):
        """_canary_plan, after making sure the analysis can read its figures (before anything changes)."""
        steps = self._canary_plan(plans)
        problem = check_source(self.params['analysis']) if steps else None
        if problem:
            raise InputError(
                'analysis.source is prometheus, but %s; fix analysis.prometheus_url (app_analysis_prometheus_url) '
                'or set analysis.source to edge_log' % problem
            )
        return steps

    def _canary_plan(self, plans):
        """{service: steps} for the rolling services whose old release will be judged against the new one."""
        analysis = self.params['analysis']
        if not analysis or not analysis['enabled'] or not self.params['edge']:
            return {}
        return {
            name: list(analysis['steps'])
            for name, plan in plans.items()
            if plan.spec.strategy == ROLLING
            and analysis['steps']
            and any(c.running and not plan.spec.is_current(c) for c in plan.remove)
        }

    def _check_analysis(self):
        analysis = self.params['analysis']
        if not analysis:
            return
        problem = check_steps(analysis['steps'])
        if problem:
            raise InputError('analysis.steps: %s' % problem)
        if analysis['max_interval'] is None:
            analysis['max_interval'] = analysis['interval']
        if analysis['max_interval'] < analysis['interval']:
            raise InputError(
                'analysis.max_interval (%d) is shorter than analysis.interval (%d): a step may wait longer '
                'for traffic than it lasts, not shorter' % (analysis['max_interval'], analysis['interval'])
            )

    def _check_migration(self, specs):
        migrate = self.params['migrate']
        if migrate and migrate['service'] not in {s.name for s in specs}:
            raise InputError("migrate.service '%s' is not a service of project %s" % (migrate['service'], self.name))

    def _edge(self, specs):
        edge = self.params['edge']
        if not edge:
            return None
        upstream = EdgeUpstream(self.engine, edge['container'], edge['upstream_dir'], self.name, edge['reload_timeout'])
        options = {key: edge[key] for key in ('server_options', 'keepalive', 'keepalive_timeout', 'fallback')}
        return EdgeSwitch(upstream, self.name, specs, edge['upstream_directives'], options)

    # -- files -------------------------------------------------------------------

    def _planned_project(self, files):
        """Check mode: the project as the staged files (not installed) describe it."""
        if not self.project_files:
            return self._project(files)
        self.files_report = self._plan_files()
        return self._project([self._in_stage(f) for f in files], self.params['stage_dir'])

    def _in_stage(self, path):
        """Where a path of project_dir is in stage_dir."""
        return os.path.join(self.params['stage_dir'], os.path.relpath(path, self.params['project_dir']))

    def _plan_files(self):
        changed, layout = self.project_files.plan(self.params['stage_dir'])
        return {
            'state': 'unchanged' if not (changed or layout) else 'to_install',
            'changed_paths': changed,
            'serving': self.project_files.current(),
        }

    def _repair_files(self):
        """A run killed while its files were on trial: put the files of the serving release back."""
        if not self.project_files:
            return
        data = self.ledger.read()

        def finished(release_id):
            return any(e.get('id') == release_id and e.get('status') == 'active' for e in data['releases'])

        repaired = self.project_files.repair(finished)
        if repaired == 'restored':
            self.module.warn(
                'an earlier run of %s was stopped while its files were on trial: the files of the serving '
                'release are back in %s' % (self.name, self.params['project_dir'])
            )

    def _note_recreated(self, actions):
        """Stateful services this run recreated from the new files keep running that way: say so."""
        recreated = sorted(name for name, action in actions.items() if action == 'recreated')
        if recreated:
            self.files_report['recreated_from_new_files'] = recreated
            self.module.warn(
                '%s of %s were recreated from the new files before the deploy failed, and run that way: '
                'the files now on the host would recreate them as before at the next deploy or docker compose up'
                % (', '.join(recreated), self.name)
            )

    def _recreate_stopped(self, files):
        """Stopped replicas this run removed before its release went live (rollback.yml stops the app for a
        database rollback) are created again, stopped, from the files that serve: the run leaves them as it
        found them, for the caller to start once the data they ran on is back."""
        if not self.stopped_removed:
            return
        try:
            self._project(files).create(self.stopped_removed)
        except DockerCLIError as exc:
            self.module.warn(
                'the stopped replicas of %s this run removed could not be created again (%s): '
                'run docker compose up in %s' % (self.name, exc.msg, self.params['project_dir'])
            )
            return
        self.stopped_recreated = dict(self.stopped_removed)
        if self.edge:
            # Compose numbers them anew: the edge's file names them, for the reload after their start.
            containers = sorted(project_containers(self.engine, self.name), key=lambda c: c.name)
            self.edge.name_stopped({name: [c for c in containers if c.service == name] for name in self.edge.specs})

    def _install_files(self):
        """Switch project_dir to the staged files; returns the set that served before."""
        if not self.project_files:
            return None
        self.files_report = self._plan_files()
        if self.files_report['state'] == 'unchanged':
            return None
        previous = self.project_files.install(self.params['stage_dir'])
        self.files_report.update(state='installed', serving=self.project_files.current(), previous=previous)
        return previous

    def _compose_files(self):
        """The compose files to use, and a cleanup function for any temporary one."""
        if self.params['files']:
            for path in self.params['files']:
                if self.project_files:  # installed by this run: they are in the stage
                    path = self._in_stage(path)
                if not os.path.isfile(path):
                    raise InputError("files: '%s' does not exist on the host: render or copy it first" % path)
            return self.params['files'], lambda: None
        text = json.dumps(self.params['definition'], indent=2, sort_keys=True)
        if self.module.check_mode:
            handle, path = tempfile.mkstemp(prefix='compose-', suffix='.json')
            with os.fdopen(handle, 'w') as out:
                out.write(text)
            return [path], lambda: os.unlink(path)
        os.makedirs(self.state_dir, mode=0o755, exist_ok=True)
        path = os.path.join(self.state_dir, 'compose.json')
        write_atomic(path, text)
        return [path], lambda: None

    def _last_config(self):
        try:
            with open(os.path.join(self.state_dir, 'last-config.json'), encoding='utf-8') as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return {}

    def _save_last_config(self, masked):
        os.makedirs(self.state_dir, mode=0o755, exist_ok=True)
        write_json(os.path.join(self.state_dir, 'last-config.json'), masked)


def _release_hash(hashes, image_ids):
    text = json.dumps({'config': hashes, 'images': image_ids}, sort_keys=True)
    return 'sha256:' + hashlib.sha256(text.encode('utf-8')).hexdigest()


def run_compose_deploy(module):
    """Entry point used by the module: returns (failed, result)."""
    deployer = None
    try:
        deployer = ComposeDeployer(module)
        return False, deployer.run()
    except (InputError, DeployLockError, ProjectFilesError) as exc:
        result = {'msg': str(exc), 'changed': False}
    except DockerCLIError as exc:
        result = exc.as_result()
    except DeployFailed as exc:
        result = {'msg': exc.reason, 'changed': True}
        result.update(exc.details)
    except ledger.LedgerError as exc:
        result = {'msg': str(exc)}
    files = deployer.files_report if deployer else {}
    if files:
        result['files'] = files
    if files.get('state') == 'restored':
        result['msg'] += '; the files of the serving release are back in %s' % module.params['project_dir']
    if deployer and deployer.stopped_recreated:
        result['stopped_recreated'] = deployer.stopped_recreated
        result['msg'] += '; the stopped replicas it removed are there again, stopped (%s)' % ', '.join(
            '%s: %d' % item for item in sorted(deployer.stopped_recreated.items())
        )
    return True, result
