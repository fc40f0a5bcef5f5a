import os

import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._common.file_set import FileSetError, write_set

FILES = [
    {'path': 'app.env', 'content': 'SECRET=x\n', 'mode': '0600', 'owner': '0', 'group': None},
    {'path': 'secrets/app/token', 'content': 'tok', 'mode': '0400', 'owner': '999', 'group': '999'},
]


def describe(root, name):
    status = os.lstat(os.path.join(root, name))
    with open(os.path.join(root, name), encoding='utf-8') as handle:
        return handle.read(), oct(status.st_mode & 0o7777), status.st_uid, status.st_gid


def test_writes_each_file_with_its_content_mode_and_owner_then_nothing_more(tmp_path):
    assert write_set(str(tmp_path), FILES, ['secrets/empty']) == ['secrets/empty', 'app.env', 'secrets/app/token']
    assert describe(tmp_path, 'app.env')[:3] == ('SECRET=x\n', '0o600', 0)
    assert describe(tmp_path, 'secrets/app/token') == ('tok', '0o400', 999, 999)
    assert oct(os.stat(tmp_path / 'secrets' / 'app').st_mode & 0o777) == '0o755'
    assert (tmp_path / 'secrets' / 'empty').is_dir()
    assert write_set(str(tmp_path), FILES, ['secrets/empty']) == []


def test_a_file_whose_mode_or_content_differs_is_written_again(tmp_path):
    write_set(str(tmp_path), FILES)
    os.chmod(tmp_path / 'app.env', 0o644)
    assert write_set(str(tmp_path), FILES) == ['app.env']
    changed = [dict(FILES[1], content='new')]
    assert write_set(str(tmp_path), changed) == ['secrets/app/token']
    assert describe(tmp_path, 'secrets/app/token')[0] == 'new'


def test_check_mode_reports_and_writes_nothing(tmp_path):
    assert write_set(str(tmp_path), FILES, ['logs'], check_mode=True) == ['logs', 'app.env', 'secrets/app/token']
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize('path', ['../escape', '/etc/passwd', 'a//b', '', 'a/../../b'])
def test_a_path_outside_root_is_refused_and_nothing_is_written(tmp_path, path):
    with pytest.raises(FileSetError, match=r'files\[\]\.path'):
        write_set(str(tmp_path), [FILES[0], dict(FILES[0], path=path)])
    assert os.listdir(tmp_path) == []


def test_an_unknown_owner_is_refused_naming_it(tmp_path):
    with pytest.raises(FileSetError, match='user no-such-user-here does not exist'):
        write_set(str(tmp_path), [dict(FILES[0], owner='no-such-user-here')])


def test_a_missing_root_is_refused(tmp_path):
    with pytest.raises(FileSetError, match='is not a directory'):
        write_set(str(tmp_path / 'missing'), FILES)
