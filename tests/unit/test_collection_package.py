"""The collection as users install it: the tarball `ansible-galaxy collection build` makes.

It holds what runs (plugins, roles, playbooks, meta, docs, the offline images' build
files) and nothing that only develops the collection; installed into an empty path, every
playbook resolves as auraspeak.ops.<name> (AWX and Automation Controller address them so).
No engine is needed: a syntax check resolves every module, role and task file.
"""

from __future__ import annotations

import filecmp
import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
PLAYBOOKS = sorted(name[:-4] for name in os.listdir(os.path.join(ROOT, 'playbooks')) if name.endswith('.yml'))


def clean_env(**extra):
    """No setting of this checkout: no ansible.cfg, no ANSIBLE_*, not the checkout's .collections on PYTHONPATH."""
    env = {key: value for key, value in os.environ.items() if not key.startswith('ANSIBLE_') and key != 'PYTHONPATH'}
    env.update(extra)
    return env


def run(args, cwd, env):
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, (args, done.stdout[-3000:], done.stderr[-3000:])
    return done


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """(names in the tarball, the collections path it was installed into)."""
    work = tmp_path_factory.mktemp('package')
    galaxy = os.path.join(BIN, 'ansible-galaxy')
    run([galaxy, 'collection', 'build', '--output-path', str(work), ROOT], cwd=str(work), env=clean_env())
    (tarball,) = [str(work / name) for name in os.listdir(str(work)) if name.endswith('.tar.gz')]
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    collections = work / 'collections'
    run(
        [galaxy, 'collection', 'install', '--no-deps', '--force', '-p', str(collections), tarball],
        cwd=str(work),
        env=clean_env(ANSIBLE_COLLECTIONS_PATH=str(collections)),
    )
    assert os.path.isfile(str(collections / 'ansible_collections' / 'auraspeak' / 'ops' / 'MANIFEST.json'))
    return names, str(collections), tarball


def test_every_playbook_name_is_one_a_collection_can_address():
    # ansible-core resolves auraspeak.ops.<name> only for names of word characters.
    assert PLAYBOOKS and all(re.match(r'^\w+$', name) for name in PLAYBOOKS), PLAYBOOKS


def test_the_tarball_holds_what_users_install_and_nothing_that_only_develops_it(installed):
    names, _collections, _tarball = installed
    tops = {name.split('/')[0] for name in names}
    # Exactly these: anything else at the top (a venv, a scratch directory) would ship to every user.
    shipped = {'plugins', 'roles', 'playbooks', 'meta', 'docs', 'images', 'changelogs', 'README.md', 'CHANGELOG.md'}
    assert tops == shipped | {'COPYING', 'MANIFEST.json', 'FILES.json'}, tops
    left_out = {'tests', 'bench', 'molecule', 'scripts', 'requirements', 'examples', 'inventories', '.ci'}
    assert not tops & left_out, tops & left_out
    assert not tops & {'Makefile', 'ansible.cfg', 'pytest.ini', 'ruff.toml', '.gitignore', '.ansible-lint'}
    assert not [name for name in names if name.startswith('changelogs/fragments')]


@pytest.mark.parametrize('playbook', PLAYBOOKS)
def test_every_playbook_resolves_from_the_installed_collection(installed, playbook, tmp_path):
    _names, collections, _tarball = installed
    # The installed path, and the community collections of the `ansible` package (found on
    # Python's path), are all there is.
    env = clean_env(ANSIBLE_COLLECTIONS_PATH=collections)
    inventory = tmp_path / 'hosts.yml'
    inventory.write_text('all:\n  children:\n    app:\n      hosts:\n        localhost:\n')
    run(
        [os.path.join(BIN, 'ansible-playbook'), '--syntax-check', '-i', str(inventory), 'auraspeak.ops.' + playbook],
        cwd=str(tmp_path),
        env=env,
    )


def test_the_execution_environment_context_carries_the_collection_as_built(installed, tmp_path):
    _names, _collections, tarball = installed
    ee = tmp_path / 'ee'
    shutil.copytree(os.path.join(ROOT, 'ee'), str(ee), ignore=shutil.ignore_patterns('dist', 'context'))
    os.makedirs(str(ee / 'dist'))
    shutil.copy(tarball, str(ee / 'dist' / 'auraspeak-ops.tar.gz'))
    builder = os.path.join(BIN, 'ansible-builder')
    run(
        [builder, 'create', '-f', 'execution-environment.yml', '--context', 'context']
        + ['--output-filename', 'Dockerfile'],
        cwd=str(ee),
        env=clean_env(),
    )
    build = ee / 'context' / '_build'
    assert filecmp.cmp(tarball, str(build / 'collections' / 'auraspeak-ops.tar.gz'), shallow=False)
    with open(str(ee / 'context' / 'Dockerfile'), encoding='utf-8') as handle:
        containerfile = handle.read()
    assert 'quay.io/centos/centos:stream9' in containerfile and 'WORKDIR /build' in containerfile
    # The image's galaxy stage installs requirements.yml from /build: the collection's entry installs from there.
    with open(str(build / 'requirements.yml'), encoding='utf-8') as handle:
        wanted = yaml.safe_load(handle)['collections']
    (own,) = [entry for entry in wanted if entry.get('type') == 'file']
    assert {entry['name'] for entry in wanted if entry is not own} == {'community.docker', 'community.crypto'}
    target = tmp_path / 'installed'
    run(
        [os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', '--no-deps', '-p', str(target), own['name']],
        cwd=str(build),
        env=clean_env(ANSIBLE_COLLECTIONS_PATH=str(target)),
    )
    assert os.path.isfile(str(target / 'ansible_collections' / 'auraspeak' / 'ops' / 'playbooks' / 'deploy.yml'))


def requirement_names(path):
    """The distribution names a pip requirements file asks for, following its -r includes."""
    names = set()
    with open(path, encoding='utf-8') as handle:
        for line in handle:
            line = line.split('#')[0].strip()
            if line.startswith('-r '):
                names |= requirement_names(os.path.join(os.path.dirname(path), line[3:].strip()))
            elif line:
                names.add(canonical(line))
    return names


def canonical(requirement):
    return re.sub(r'[-_.]+', '-', re.match(r'[A-Za-z0-9][A-Za-z0-9._-]*', requirement).group(0)).lower()


def test_the_offline_execution_environment_context_installs_only_from_the_wheelhouse_and_the_tarball(
    installed, tmp_path
):
    # ee/execution-environment-offline.yml, as `make ee-image` creates it (no image is built here).
    _names, _collections, tarball = installed
    ee = tmp_path / 'ee'
    shutil.copytree(os.path.join(ROOT, 'ee'), str(ee), ignore=shutil.ignore_patterns('dist', 'context*', 'wheelhouse'))
    os.makedirs(str(ee / 'dist'))
    shutil.copy(tarball, str(ee / 'dist' / 'auraspeak-ops.tar.gz'))
    os.makedirs(str(ee / 'wheelhouse'))  # the wheels are downloaded by `make ee-image`
    run(
        [os.path.join(BIN, 'ansible-builder'), 'create', '-f', 'execution-environment-offline.yml']
        + ['--context', 'context', '--output-filename', 'Dockerfile'],
        cwd=str(ee),
        env=clean_env(),
    )
    build = ee / 'context' / '_build'
    with open(str(ee / 'context' / 'Dockerfile'), encoding='utf-8') as handle:
        containerfile = handle.read()
    assert 'ARG EE_BASE_IMAGE="auraspeak-offline/debian:bookworm"' in containerfile
    # ansible-builder's scripts call $PKGMGR as dnf; the apt wrapper is in the context, executable.
    assert 'ARG PKGMGR="/output/scripts/pkgmgr-apt"' in containerfile
    assert os.access(str(build / 'scripts' / 'pkgmgr-apt'), os.X_OK)
    # The collection's own tarball, byte for byte, and nothing for Galaxy to fetch.
    assert filecmp.cmp(tarball, str(build / 'collections' / 'auraspeak-ops.tar.gz'), shallow=False)
    with open(str(build / 'requirements.yml'), encoding='utf-8') as handle:
        wanted = yaml.safe_load(handle)['collections']
    assert [entry['type'] for entry in wanted] == ['file']
    assert 'ARG ANSIBLE_GALAXY_CLI_COLLECTION_OPTS="--no-deps"' in containerfile
    # The wheels are mounted for the one step that installs them, before ansible-builder's own pip steps.
    lines = containerfile.splitlines()
    (mounted,) = [i for i, line in enumerate(lines) if '--mount=type=bind,source=_build/wheelhouse' in line]
    assert '--no-index' in lines[mounted]
    first_pip = min(i for i, line in enumerate(lines) if '-m pip install' in line)
    assert mounted == first_pip, lines[first_pip]
    assert not [line for line in lines if line.startswith('COPY') and 'wheelhouse' in line]
    # Every requirement a later pip step names is one of the wheelhouse's, so each finds it installed.
    wheelhouse = requirement_names(str(build / 'wheelhouse' / 'wheelhouse.txt'))
    refs = re.search(r'^ARG ANSIBLE_INSTALL_REFS="(.*)"$', containerfile, re.M).group(1).split()
    pip_steps = [
        line.split('install --no-cache-dir', 1)[1]
        for index, line in enumerate(lines)
        if 'pip install --no-cache-dir' in line and index != mounted
    ]
    assert len(pip_steps) == 3, pip_steps  # ansible_core and ansible_runner, bindep's, dumb-init
    named = {
        canonical(word.strip("'")) for step in pip_steps for word in step.split() if not word.startswith(('-', '$'))
    }
    assert {canonical(ref) for ref in refs} | named <= wheelhouse, (
        {canonical(ref) for ref in refs} | named
    ) - wheelhouse
    assert requirement_names(str(build / 'requirements.txt')) <= wheelhouse
    assert {'ansible-core', 'ansible-runner', 'ansible'} <= wheelhouse
    # The same ansible-core and ansible-runner as the registry definition.
    with open(os.path.join(ROOT, 'ee', 'execution-environment.yml'), encoding='utf-8') as handle:
        registry = yaml.safe_load(handle)['dependencies']
    with open(str(ee / 'execution-environment-offline.yml'), encoding='utf-8') as handle:
        offline = yaml.safe_load(handle)['dependencies']
    assert [offline[key] for key in ('ansible_core', 'ansible_runner')] == [
        registry[key] for key in ('ansible_core', 'ansible_runner')
    ]


def test_the_collections_an_awx_project_sync_installs_are_the_ones_galaxy_yml_depends_on():
    with open(os.path.join(ROOT, 'galaxy.yml'), encoding='utf-8') as handle:
        depends = set(yaml.safe_load(handle)['dependencies'])
    with open(os.path.join(ROOT, 'collections', 'requirements.yml'), encoding='utf-8') as handle:
        synced = yaml.safe_load(handle)['collections']
    assert {entry['name'] for entry in synced if entry.get('type') != 'git'} == depends
    (own,) = [entry for entry in synced if entry.get('type') == 'git']
    assert own['name'].endswith('/auraspeak.ops.git')
