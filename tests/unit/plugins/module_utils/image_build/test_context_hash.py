import os

import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._build import context_hash as ch
from ansible_collections.auraspeak.ops.plugins.module_utils._build.dockerignore import IgnoreRules


def write(root, relpath, text, mode=0o644):
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.fixture
def context(tmp_path):
    write(tmp_path, 'Dockerfile', 'FROM scratch\n')
    write(tmp_path, 'src/server.js', 'console.log(1)\n')
    write(tmp_path, 'src/run.sh', '#!/bin/sh\n', 0o755)
    write(tmp_path, 'node_modules/dep/index.js', 'x')
    write(tmp_path, 'README.md', '# readme')
    write(tmp_path, '.dockerignore', 'node_modules\n*.md\n')
    return tmp_path


def manifest_of(root, dockerfile='Dockerfile'):
    rules = ch.load_ignore_rules(str(root), str(root / dockerfile))
    return ch.context_manifest(str(root), rules)


def test_manifest_follows_dockerignore(context):
    manifest = manifest_of(context)
    assert sorted(manifest) == ['.dockerignore', 'Dockerfile', 'src', 'src/run.sh', 'src/server.js']
    assert manifest['src/run.sh'].startswith('f 755 ')
    assert manifest['src'].startswith('d ')


def test_dockerfile_specific_ignore_file_wins(context):
    write(context, 'Dockerfile.dockerignore', 'src/run.sh\n')
    manifest = manifest_of(context)
    assert 'src/run.sh' not in manifest
    assert 'README.md' in manifest  # the context's .dockerignore no longer applies


def test_symlinks_are_recorded_by_target(context):
    os.symlink('server.js', context / 'src' / 'link.js')
    assert manifest_of(context)['src/link.js'].endswith(' server.js')


def test_exception_reincludes_inside_an_ignored_directory(context):
    write(context, '.dockerignore', 'node_modules\n!node_modules/dep/index.js\n')
    assert 'node_modules/dep/index.js' in manifest_of(context)


@pytest.mark.parametrize('change', ['content', 'mode', 'new file', 'removed file'])
def test_context_digest_follows_what_the_builder_copies(context, change):
    before = ch.manifest_digest(manifest_of(context))
    if change == 'content':
        write(context, 'src/server.js', 'console.log(2)\n')
    elif change == 'mode':
        (context / 'src/server.js').chmod(0o600)
    elif change == 'new file':
        write(context, 'src/new.js', '')
    else:
        (context / 'src/run.sh').unlink()
    assert ch.manifest_digest(manifest_of(context)) != before


@pytest.mark.parametrize('change', ['ignored file', 'mtime'])
def test_context_digest_ignores_what_the_builder_never_sees(context, change):
    before = ch.manifest_digest(manifest_of(context))
    if change == 'ignored file':
        write(context, 'node_modules/dep/index.js', 'changed')
        write(context, 'CHANGES.md', 'new')
    else:
        os.utime(context / 'src/server.js', (1, 1))
    assert ch.manifest_digest(manifest_of(context)) == before


def test_input_components_change_independently():
    base = dict(
        manifest={'a': 'f 644 00'},
        dockerfile_text='FROM x',
        target='production',
        build_args={'A': '1'},
        labels={},
        base_images={'x': 'sha256:1'},
    )
    components = ch.input_components(**base)
    for key, value in [
        ('target', 'development'),
        ('build_args', {'A': '2'}),
        ('base_images', {'x': 'sha256:2'}),
        ('dockerfile_text', 'FROM y'),
    ]:
        changed = ch.input_components(**dict(base, **{key: value}))
        assert ch.changed_components(components, changed) == [key.replace('_text', '')]
    assert ch.changed_components(None, components) == sorted(components)


def test_build_arg_order_does_not_matter():
    a = ch.input_components({}, '', None, {'A': '1', 'B': '2'}, {}, {})
    b = ch.input_components({}, '', None, {'B': '2', 'A': '1'}, {}, {})
    assert ch.combined_hash(a) == ch.combined_hash(b)


def test_manifest_label_round_trip_and_changed_files():
    old = {'a.js': 'f 644 ' + 'a' * 64, 'b.js': 'f 644 ' + 'b' * 64}
    stored = ch.decode_manifest(ch.encode_manifest(old))
    new = {'a.js': 'f 644 ' + 'a' * 64, 'c.js': 'f 644 ' + 'c' * 64}
    assert ch.changed_files(stored, new) == ['b.js', 'c.js']


def test_oversized_manifest_is_not_stored():
    huge = {'f%06d' % i: 'f 644 ' + os.urandom(32).hex() for i in range(5000)}
    assert ch.encode_manifest(huge) is None
    assert ch.decode_manifest('not base64 zlib') is None


def test_unreadable_label_decodes_to_none():
    assert ch.decode_manifest(None) is None


def test_ignore_rules_from_text():
    assert IgnoreRules.from_text('a\n!a/b\n').is_ignored('a/c')
