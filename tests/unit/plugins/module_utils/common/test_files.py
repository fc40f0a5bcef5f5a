import os
import stat

import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._backup.manifest import read_json
from ansible_collections.auraspeak.ops.plugins.module_utils._common.files import write_json


@pytest.fixture
def umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_write_json(tmp_path, umask):
    path = str(tmp_path / 'state.json')
    write_json(path, {'b': 1, 'a': [1, 2]}, mode=0o640)
    with open(path) as handle:
        text = handle.read()
    assert text == '{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}\n'
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert os.listdir(tmp_path) == ['state.json']


def test_write_json_default_mode_and_replace(tmp_path, umask):
    path = str(tmp_path / 'state.json')
    write_json(path, {'v': 1})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    write_json(path, {'v': 2})
    assert read_json(path) == {'v': 2}
    assert os.listdir(tmp_path) == ['state.json']


def test_write_json_keeps_the_old_file_when_data_is_not_json(tmp_path):
    path = str(tmp_path / 'state.json')
    write_json(path, {'v': 1})
    with pytest.raises(TypeError):
        write_json(path, {'v': object()})
    assert read_json(path) == {'v': 1}
    # No temporary file is left behind (the JSON was streamed into one before).
    assert os.listdir(tmp_path) == ['state.json']
