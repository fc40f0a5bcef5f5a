import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._build.source_info import (
    source_labels,
    strip_credentials,
    version_from_tag,
)


@pytest.mark.parametrize(
    'url, clean',
    [
        ('https://user:token@github.com/a/b.git', 'https://github.com/a/b.git'),
        ('https://github.com/a/b.git', 'https://github.com/a/b.git'),
        ('git@github.com:a/b.git', 'git@github.com:a/b.git'),
    ],
)
def test_strip_credentials(url, clean):
    assert strip_credentials(url) == clean


@pytest.mark.parametrize('tag, version', [('app:1.2.0', '1.2.0'), ('app', None), ('app:latest', None)])
def test_version_from_tag(tag, version):
    assert version_from_tag(tag) == version


def fake_git(answers):
    def run(cmd):
        return answers.get(tuple(cmd[3:]), (128, '', 'fatal: not a git repository'))

    return run


def test_labels_from_a_checkout():
    run = fake_git(
        {
            ('rev-parse', 'HEAD'): (0, 'abc123\n', ''),
            ('remote', 'get-url', 'origin'): (0, 'https://u:p@example.com/r.git\n', ''),
        }
    )
    assert source_labels('/ctx', 'app:2.0', '/usr/bin/git', run) == {
        'org.opencontainers.image.version': '2.0',
        'org.opencontainers.image.revision': 'abc123',
        'org.opencontainers.image.source': 'https://example.com/r.git',
    }


def test_labels_outside_a_checkout():
    assert source_labels('/ctx', 'app', '/usr/bin/git', fake_git({})) == {}
    assert source_labels('/ctx', 'app:1', None, None) == {'org.opencontainers.image.version': '1'}
