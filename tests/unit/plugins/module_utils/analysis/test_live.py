import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._analysis.live import (
    AnalysisInputError,
    pick_releases,
    release_of,
)
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.containers import Container, upstream_addresses


def container(name, image, created, address):
    return Container(
        {
            'Id': name,
            'Name': '/' + name,
            'Created': created,
            'Image': 'sha256:' + name,
            'Config': {'Image': image, 'Labels': {}},
            'State': {'Status': 'running'},
            'NetworkSettings': {'Networks': {'edge': {'IPAddress': address}, 'internal': {'IPAddress': ''}}},
        }
    )


OLD = container('p-app-1', 'acme/app:1.4.0', '2026-12-01T10:00:00.000000001Z', '172.18.0.5')
NEW = container('p-app-3', 'acme/app:1.5.0', '2026-12-02T10:00:00.000000001Z', '172.18.0.7')


def test_a_container_runs_its_image_tag():
    assert release_of(NEW) == '1.5.0'
    assert upstream_addresses([OLD, NEW], 3000) == {'172.18.0.5:3000', '172.18.0.7:3000'}


def test_by_default_the_newest_release_is_judged_against_the_other():
    assert pick_releases({'1.4.0': [OLD], '1.5.0': [NEW]}, None, None) == ('1.5.0', '1.4.0')
    assert pick_releases({'1.5.0': [NEW]}, None, None) == ('1.5.0', None)


def test_named_releases_must_run():
    assert pick_releases({'1.4.0': [OLD], '1.5.0': [NEW]}, '1.4.0', None) == ('1.4.0', '1.5.0')
    with pytest.raises(AnalysisInputError, match=r"canary '2\.0\.0' does not run: the service runs 1\.4\.0, 1\.5\.0"):
        pick_releases({'1.4.0': [OLD], '1.5.0': [NEW]}, '2.0.0', None)


def test_three_releases_need_a_name():
    third = container('p-app-5', 'acme/app:1.6.0', '2026-12-03T00:00:00Z', '172.18.0.9')
    with pytest.raises(AnalysisInputError, match='runs 3 releases'):
        pick_releases({'1.4.0': [OLD], '1.5.0': [NEW], '1.6.0': [third]}, None, None)
