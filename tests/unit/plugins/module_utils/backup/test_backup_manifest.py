import hashlib
import json

import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._backup import manifest


def rows(**counts):
    return {name.replace('__', '.'): {'rows': n, 'bytes': 8192} for name, n in counts.items()}


@pytest.mark.parametrize(
    ('expected', 'actual', 'mismatches'),
    [
        ({}, {}, []),
        (rows(public__a=3, public__b=0), rows(public__a=3, public__b=0), []),
        # sizes are reported, never compared
        ({'public.a': {'rows': 3, 'bytes': 1}}, {'public.a': {'rows': 3, 'bytes': 999}}, []),
        (rows(public__a=3), rows(public__a=2), ['table public.a has 2 rows, the manifest says 3']),
        (rows(public__a=3), {}, ['table public.a is missing from the restore']),
        ({}, rows(public__a=3), ['table public.a is in the restore but not in the manifest']),
        (
            rows(public__z=1, public__b=1, public__a=5, app__m=1),
            rows(public__y=1, public__a=4, public__b=1, public__c=2),
            [
                'table app.m is missing from the restore',
                'table public.z is missing from the restore',
                'table public.c is in the restore but not in the manifest',
                'table public.y is in the restore but not in the manifest',
                'table public.a has 4 rows, the manifest says 5',
            ],
        ),
    ],
)
def test_compare_tables(expected, actual, mismatches):
    assert manifest.compare_tables(expected, actual) == mismatches


def test_tables_from_rows():
    assert manifest.tables_from_rows([['public.a', '3', '16384'], ('app."Odd name"', 0, 8192)]) == {
        'public.a': {'rows': 3, 'bytes': 16384},
        'app."Odd name"': {'rows': 0, 'bytes': 8192},
    }
    assert manifest.tables_from_rows(iter([])) == {}


def test_tables_from_rows_rejects_non_numbers():
    with pytest.raises(ValueError):
        manifest.tables_from_rows([['public.a', '', '1']])


def test_build_minimal():
    tables = rows(public__a=1)
    assert manifest.build('pgbackrest', 'F1', 'app', tables, 1795687200.5) == {
        'format': 1,
        'kind': 'pgbackrest',
        'id': 'F1',
        'database': 'app',
        'created': 1795687200.5,
        'tables': tables,
    }


def test_build_with_file_and_extra():
    result = manifest.build(
        'dump',
        'p-20261126T100000Z',
        'app',
        {},
        1.0,
        file_info={'name': 'p-20261126T100000Z.dump', 'bytes': 5, 'sha256': 'ab'},
        extra={'tag': None, 'writes': 7},
    )
    assert result == {
        'format': 1,
        'kind': 'dump',
        'id': 'p-20261126T100000Z',
        'database': 'app',
        'created': 1.0,
        'tables': {},
        'file': {'name': 'p-20261126T100000Z.dump', 'bytes': 5, 'sha256': 'ab'},
        'tag': None,
        'writes': 7,
    }


def test_build_leaves_out_empty_file_info():
    assert 'file' not in manifest.build('dump', 'x', 'app', {}, 1.0, file_info={})


@pytest.mark.parametrize('data', [b'', b'hello\n', bytes(range(256)) * 1000])
@pytest.mark.parametrize('chunk', [1, 7, 1024 * 1024])
def test_sha256_file(tmp_path, data, chunk):
    if chunk == 1 and len(data) > 1000:
        data = data[:1000]
    path = tmp_path / 'f'
    path.write_bytes(data)
    assert manifest.sha256_file(str(path), chunk=chunk) == hashlib.sha256(data).hexdigest()


def test_sha256_file_known_value(tmp_path):
    path = tmp_path / 'f'
    path.write_bytes(b'abc')
    assert manifest.sha256_file(str(path)) == 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'


def test_read_json(tmp_path):
    path = tmp_path / 'x.json'
    path.write_text(json.dumps({'a': [1, None]}))
    assert manifest.read_json(str(path)) == {'a': [1, None]}


def test_read_json_missing(tmp_path):
    assert manifest.read_json(str(tmp_path / 'missing.json')) is None
    assert manifest.read_json(str(tmp_path / 'missing.json'), default={}) == {}
