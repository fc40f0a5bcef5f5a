"""ProjectFiles on a real file system: a set switches as one, goes back byte for byte, and a kill -9 at
any step leaves the old set or the new one, which the next run repairs."""

import os
import signal

import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._common import files
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.project_files import ProjectFiles, manifest

OLD = {
    'app.env': ('DATABASE_URL=postgres://app:old@db/app\n', 0o600),
    'compose.yaml': ('services: {}\n', 0o644),
    'secrets/postgres_password': ('old', 0o400),
}
NEW = {
    'app.env': ('DATABASE_URL=postgres://app:new@db/app\n', 0o600),
    'compose.yaml': ('services: {}\n', 0o644),
    'secrets/postgres_password': ('new', 0o400),
    'base-0.yaml': ('services: {app: {}}\n', 0o644),
}
# The calls that change the file system: the child is killed just before the n-th of them.
MUTATIONS = ('rename', 'replace', 'symlink', 'unlink', 'mkdir', 'rmdir', 'chmod', 'chown', 'fsync')


def write_tree(root, files):
    os.makedirs(root, exist_ok=True)
    for path, (text, mode) in files.items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, 'w', encoding='utf-8') as handle:
            handle.write(text)
        os.chmod(full, mode)
    return root


def served(project_dir):
    """What Compose and users read under the project directory: through the links, internals left out."""
    view = {}
    for name in sorted(os.listdir(project_dir)):
        path = os.path.join(project_dir, name)
        if name.startswith('.') or not os.path.exists(path):
            continue  # internals, and the link of a new name before its set is switched in (dangling)
        if os.path.isdir(path):
            view.update({os.path.join(name, k): v for k, v in manifest(os.path.realpath(path)).items()})
            view[name] = 'directory'
        else:
            view.update(manifest_of_file(path, name))
    return view


def manifest_of_file(path, name):
    info = os.stat(path)
    with open(path, 'rb') as handle:
        return {name: (oct(info.st_mode & 0o7777), handle.read())}


def normalise(view):
    return {
        k: (v if v == 'directory' else (v['mode'], v.get('sha256')) if isinstance(v, dict) else v)
        for k, v in view.items()
    }


@pytest.fixture
def dirs(tmp_path):
    project = str(tmp_path / 'etc')
    os.makedirs(project)
    return project, str(tmp_path / 'state' / 'files-journal.json'), str(tmp_path)


def view_of(files, tmp):
    """served() of a directory holding exactly files, for comparisons."""
    root = os.path.join(tmp, 'expected-%d' % len(os.listdir(tmp)))
    write_tree(root, files)
    return served(root)


def test_install_switches_the_set_and_restore_brings_the_old_one_back_byte_for_byte(dirs):
    project, journal, tmp = dirs
    files = ProjectFiles(project, journal)
    files.install(write_tree(os.path.join(tmp, 'stage-old'), OLD))
    files.keep()
    old_view = served(project)
    assert old_view == view_of(OLD, tmp)

    stage = write_tree(os.path.join(tmp, 'stage-new'), NEW)
    changed, _layout = files.plan(stage)
    assert changed == ['app.env', 'base-0.yaml', 'secrets/postgres_password']
    previous = files.install(stage)
    assert served(project) == view_of(NEW, tmp)
    assert os.path.exists(journal)

    files.restore(previous)
    assert served(project) == old_view
    assert not os.path.lexists(os.path.join(project, 'base-0.yaml'))  # the link of a file the old set lacks
    assert os.listdir(os.path.join(project, '.generations')) == [previous]
    assert not os.path.exists(journal)
    assert files.plan(stage)[0] == changed


def test_an_unchanged_stage_plans_nothing(dirs):
    project, journal, tmp = dirs
    files = ProjectFiles(project, journal)
    stage = write_tree(os.path.join(tmp, 'stage'), OLD)
    files.install(stage)
    files.keep()
    assert files.plan(stage) == ([], False)


def test_plain_files_of_the_layout_before_are_adopted_with_their_content(dirs):
    project, journal, tmp = dirs
    write_tree(project, OLD)
    os.makedirs(os.path.join(project, 'backup'))  # not the deploy's: left alone
    files = ProjectFiles(project, journal)
    old_view = served(project)
    changed, layout = files.plan(write_tree(os.path.join(tmp, 'same'), OLD))
    assert changed == [] and layout

    previous = files.install(write_tree(os.path.join(tmp, 'stage-new'), NEW))
    assert previous is not None
    assert os.path.islink(os.path.join(project, 'secrets'))
    files.restore(previous)
    assert served(project) == old_view
    assert os.path.isdir(os.path.join(project, 'backup')) and not os.path.islink(os.path.join(project, 'backup'))


def test_restore_of_a_first_install_leaves_no_file(dirs):
    project, journal, tmp = dirs
    files = ProjectFiles(project, journal)
    previous = files.install(write_tree(os.path.join(tmp, 'stage'), NEW))
    assert previous is None
    files.restore(previous)
    assert os.listdir(project) == []


def killed_install(project, journal, stage, kill_at):
    """install() in a child killed with SIGKILL just before its kill_at-th change; True when it finished."""
    pid = os.fork()
    if pid == 0:  # the child: count the changes, die at the chosen one
        count = [0]

        def counted(function):
            def call(*args, **kwargs):
                count[0] += 1
                if count[0] == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)
                return function(*args, **kwargs)

            return call

        for name in MUTATIONS:
            setattr(os, name, counted(getattr(os, name)))
        try:
            ProjectFiles(project, journal).install(stage)
        finally:
            os._exit(0)
    _pid, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status)


@pytest.mark.parametrize('before', ['plain files', 'an installed set'])
def test_a_kill_at_any_step_leaves_the_old_set_or_the_new_one_and_the_next_run_repairs_it(tmp_path, before):
    kill_at, outcomes = 1, set()
    while True:
        case = tmp_path / str(kill_at)
        project, journal = str(case / 'etc'), str(case / 'state' / 'files-journal.json')
        if before == 'plain files':
            write_tree(project, OLD)
        else:
            os.makedirs(project)
            setup = ProjectFiles(project, journal)
            setup.install(write_tree(str(case / 'stage-old'), OLD))
            setup.keep()
        old_view = served(project)
        new_view = view_of(NEW, str(case))
        finished = killed_install(project, journal, write_tree(str(case / 'stage-new'), NEW), kill_at)

        after_kill = served(project)
        assert after_kill in (old_view, new_view), 'a mix after a kill at change %d' % kill_at
        outcomes.add('old' if after_kill == old_view else 'new')
        # The next run: the deploy that installed the new set did not finish, so the old one is put back.
        ProjectFiles(project, journal).repair(lambda release_id: False)
        assert served(project) == old_view, 'not repaired after a kill at change %d' % kill_at
        if finished:
            break
        kill_at += 1
    assert kill_at > 5 and outcomes == {'old', 'new'}


def test_repair_keeps_a_set_whose_release_went_live(dirs):
    project, journal, tmp = dirs
    files = ProjectFiles(project, journal)
    files.install(write_tree(os.path.join(tmp, 'stage-old'), OLD))
    files.keep()
    files.install(write_tree(os.path.join(tmp, 'stage-new'), NEW))
    files.note_release('r-7')
    assert ProjectFiles(project, journal).repair(lambda release_id: release_id == 'r-7') == 'kept'
    assert served(project) == view_of(NEW, tmp)
    assert len(os.listdir(os.path.join(project, '.generations'))) == 1


def test_replace_symlink_swaps_a_directory_for_a_link_in_one_step(tmp_path):
    os.makedirs(tmp_path / 'target')
    os.makedirs(tmp_path / 'name')
    (tmp_path / 'name' / 'inside').write_text('x')
    files.replace_symlink(str(tmp_path / 'name'), 'target')
    assert os.readlink(tmp_path / 'name') == 'target'
    assert sorted(os.listdir(tmp_path)) == ['name', 'target']
