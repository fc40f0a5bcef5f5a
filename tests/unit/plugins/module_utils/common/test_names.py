import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._common import names
from ansible_collections.auraspeak.ops.plugins.test.project_name import TestModule as ProjectNameTest
from ansible_collections.auraspeak.ops.plugins.test.release_version import TestModule as ReleaseVersionTest


@pytest.mark.parametrize('name', ['auraspeak', 'itest-m1', 'app_2', '0day', 'a' * 128])
def test_compose_project_names_are_valid(name):
    assert names.is_project(name)
    assert names.check_project(name) == name


@pytest.mark.parametrize(
    'name',
    ['', 'Auraspeak', 'my.app', '-app', '_app', '../etc', '..', 'a b', 'a' * 129, None, 7],
)
def test_what_compose_or_a_directory_name_refuses_is_not(name):
    assert not names.is_project(name)
    with pytest.raises(ValueError, match=r"app_project '.*' is not a valid project name: use lowercase letters"):
        names.check_project(name, 'app_project')


@pytest.mark.parametrize('version', ['1.0.0', 'v2.3.4-rc.1', '2026_12_04', 'latest', 'A' * 128, '_build'])
def test_image_tags_are_valid_versions(version):
    assert names.is_version(version)
    assert names.check_version(version) == version


@pytest.mark.parametrize('version', ['', '.1', '-rc', '1.0/2', '1.0:2', 'ü1', 'A' * 129, 1.0, None])
def test_what_an_image_tag_cannot_be_is_not_a_version(version):
    assert not names.is_version(version)
    with pytest.raises(ValueError, match=r"app_version '.*' is not a valid release version: it is an image tag"):
        names.check_version(version, 'app_version')


def test_the_roles_test_plugins_are_the_same_rules():
    assert ProjectNameTest().tests() == {'project_name': names.is_project}
    assert ReleaseVersionTest().tests() == {'release_version': names.is_version}
