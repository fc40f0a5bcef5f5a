import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._build.dockerignore import IgnoreRules


@pytest.mark.parametrize(
    'patterns, path, ignored',
    [
        (['node_modules'], 'node_modules', True),
        (['node_modules'], 'node_modules/x/y.js', True),  # a matched directory takes its contents
        (['node_modules'], 'src/node_modules', False),  # patterns are anchored at the context root
        (['/node_modules'], 'node_modules/a', True),  # a leading slash means the same
        (['**/node_modules'], 'src/node_modules/a', True),
        (['**/node_modules'], 'node_modules', True),  # '**/' also matches zero directories
        (['*.md'], 'README.md', True),
        (['*.md'], 'docs/guide.md', False),  # '*' does not cross '/'
        (['docs/**/*.md'], 'docs/a/b/c.md', True),
        (['docs/**/*.md'], 'docs/c.md', True),
        (['src/?.js'], 'src/a.js', True),
        (['src/?.js'], 'src/ab.js', False),
        (['[ab].txt'], 'a.txt', True),
        (['[ab].txt'], 'c.txt', False),
        (['[!ab].txt'], 'c.txt', True),
        (['*.md', '!README.md'], 'README.md', False),  # the last matching pattern wins
        (['*.md', '!README.md', 'README*'], 'README.md', True),
        (['# comment', '', '  secret.txt  '], 'secret.txt', True),
        (['./build/../dist'], 'dist/x', True),  # patterns are cleaned like filepath.Clean
        (['a\\*b'], 'a*b', True),  # backslash escapes a glob character
        (['a\\*b'], 'axb', False),
    ],
)
def test_is_ignored(patterns, path, ignored):
    assert IgnoreRules(patterns).is_ignored(path) is ignored


def test_empty_rules_ignore_nothing():
    assert not IgnoreRules().is_ignored('anything/at/all')


@pytest.mark.parametrize(
    'patterns, directory, prunable',
    [
        (['node_modules'], 'node_modules', True),
        (['node_modules', '!node_modules/keep/*.js'], 'node_modules', False),
        (['node_modules', '!src/keep.js'], 'node_modules', True),  # the exception cannot reach inside
        (['build', '!**/keep'], 'build', False),  # a leading wildcard could
    ],
)
def test_can_prune(patterns, directory, prunable):
    assert IgnoreRules(patterns).can_prune(directory) is prunable
