import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.compose_cli import parse_version


@pytest.mark.parametrize(
    'text, version',
    [('2.26.1-4', (2, 26, 1)), ('v2.18.0', (2, 18, 0)), ('2.29', (2, 29, 0)), ('', None), ('unknown', None)],
)
def test_parse_version(text, version):
    assert parse_version(text) == version
