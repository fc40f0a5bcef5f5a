"""auraspeak.ops.image_build against the real Docker engine.

Each test builds into image names of its own (itest-imgbuild/...) and removes
them afterwards. The example app is copied to a temporary directory so tests
can change its files. Base images are the offline ones (`make images`).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import uuid

import pytest
from playbook_runs import ROOT, run_module

NODE_BASE = 'auraspeak-offline/node:18'
DEBIAN_BASE = 'auraspeak-offline/debian:bookworm'
MODULE = 'auraspeak.ops.image_build'


def docker(*args, check=True):
    return subprocess.run(['docker', *args], capture_output=True, text=True, check=check, timeout=300)


def inspect(ref):
    completed = docker('image', 'inspect', ref, check=False)
    return json.loads(completed.stdout)[0] if completed.returncode == 0 else None


@pytest.fixture(scope='module', autouse=True)
def base_images_present():
    for ref in (NODE_BASE, DEBIAN_BASE):
        if inspect(ref) is None:
            pytest.fail('%s is missing: run `make images` first' % ref)


@pytest.fixture
def tags():
    """Unique image references for one test, removed afterwards."""
    made = []
    run_id = uuid.uuid4().hex[:8]

    def make(name='app', tag='1.0.0'):
        ref = 'itest-imgbuild/%s-%s:%s' % (name, run_id, tag)
        made.append(ref)
        return ref

    yield make
    docker('image', 'rm', '--force', *made, check=False)


@pytest.fixture
def app_copy(tmp_path):
    destination = tmp_path / 'app'
    shutil.copytree(ROOT + '/examples/app', destination)
    return destination


@pytest.fixture
def tiny_context(tmp_path):
    context = tmp_path / 'tiny'
    context.mkdir()
    (context / 'Dockerfile').write_text(
        'ARG BASE_IMAGE=%s\nFROM ${BASE_IMAGE} AS base\nCOPY message.txt /message.txt\n\n'
        'FROM base AS final\nRUN cat /message.txt\n' % DEBIAN_BASE
    )
    (context / 'message.txt').write_text('hello\n')
    (context / 'notes.md').write_text('not sent to the builder\n')
    (context / '.dockerignore').write_text('*.md\n')
    return context


def assert_no_traceback(run):
    # ansible-core 2.19 adds exception='(traceback unavailable)' to every failure.
    assert 'Traceback' not in run.stdout
    assert run.result.get('exception', '(traceback unavailable)') == '(traceback unavailable)'


def build_args(context, tag_list, **extra):
    args = {'path': str(context), 'tags': tag_list}
    args.update(extra)
    return args


def test_production_image_is_at_most_0_6_of_development(app_copy, tags):
    dev_tag, prod_tag = tags(tag='dev'), tags(tag='1.0.0')
    common = {'build_args': {'BASE_IMAGE': NODE_BASE, 'APP_VERSION': '1.0.0'}}
    dev = run_module(MODULE, build_args(app_copy, [dev_tag], target='development', **common)).result
    prod = run_module(MODULE, build_args(app_copy, [prod_tag], target='production', **common)).result
    assert dev.get('failed') is not True, dev.get('msg')
    assert prod.get('failed') is not True, prod.get('msg')
    assert dev['changed'] and prod['changed']
    assert prod['size'] <= 0.6 * dev['size'], (prod['size'], dev['size'])

    prod_config = inspect(prod_tag)['Config']
    assert prod_config['User'] == '1000:1000'
    assert 'NODE_ENV=production' in prod_config['Env']
    assert prod_config['Healthcheck']['Test'][0] in ('CMD', 'CMD-SHELL')
    assert prod_config['Labels']['org.opencontainers.image.version'] == '1.0.0'
    assert prod_config['Labels']['io.auraspeak.ops.input-hash'] == prod['input_hash']
    assert 'NODE_ENV=development' in inspect(dev_tag)['Config']['Env']


def test_check_run_then_idempotent_cycle(tiny_context, tags):
    ref = tags()
    args = build_args(tiny_context, [ref])

    predicted = run_module(MODULE, args, check=True).result
    assert predicted['changed'] is True and predicted['operation'] == 'build'
    assert predicted['image_id'] is None
    assert inspect(ref) is None, 'check mode must not build'

    built = run_module(MODULE, args).result
    assert built['changed'] is True and built['operation'] == 'build'
    assert built['image_id'] == inspect(ref)['Id']

    predicted_again = run_module(MODULE, args, check=True).result
    assert predicted_again['changed'] is False and predicted_again['operation'] == 'none'
    assert predicted_again['input_hash'] == built['input_hash']

    again = run_module(MODULE, args).result
    assert again['changed'] is False
    assert again['image_id'] == built['image_id']


def test_changed_source_file_rebuilds_and_diff_names_it(app_copy, tags):
    ref = tags()
    args = build_args(app_copy, [ref], target='production', build_args={'BASE_IMAGE': NODE_BASE})
    first = run_module(MODULE, args).result
    assert first['changed'] is True, first.get('msg')

    (app_copy / 'README.md').write_text('docs are not part of the image\n')
    unchanged = run_module(MODULE, args, check=True).result
    assert unchanged['changed'] is False, 'a file .dockerignore excludes must not trigger a build'

    server = app_copy / 'src' / 'server.js'
    server.write_text(server.read_text() + '\n// touched by the test\n')
    predicted = run_module(MODULE, args, check=True, diff=True).result
    assert predicted['changed'] is True
    assert predicted['changed_inputs'] == ['context']
    assert predicted['changed_files'] == ['src/server.js']
    diff = predicted['diff']
    assert set(diff['before']['changed_files']) == {'src/server.js'}
    assert diff['before']['input_hash'] == first['input_hash'] != diff['after']['input_hash']

    rebuilt = run_module(MODULE, args).result
    assert rebuilt['changed'] is True
    assert rebuilt['image_id'] != first['image_id']


@pytest.mark.parametrize(
    'change, expected_input',
    [
        ('target', 'target'),
        ('build_arg', 'build_args'),
        ('dockerfile', 'context dockerfile'),  # the Dockerfile is part of the context too
        ('label', 'labels'),
    ],
)
def test_each_kind_of_input_triggers_a_rebuild(tiny_context, tags, change, expected_input):
    ref = tags()
    args = build_args(tiny_context, [ref], target='final')
    assert run_module(MODULE, args).result['changed'] is True
    if change == 'target':
        args['target'] = 'base'
    elif change == 'build_arg':
        args['build_args'] = {'UNUSED': 'x'}
    elif change == 'dockerfile':
        dockerfile = tiny_context / 'Dockerfile'
        dockerfile.write_text(dockerfile.read_text() + 'ENV CHANGED=1\n')
    else:
        args['labels'] = {'team': 'api'}
    predicted = run_module(MODULE, args, check=True).result
    assert predicted['changed'] is True
    assert predicted['changed_inputs'] == expected_input.split()


def test_rebuilt_base_image_triggers_a_rebuild(tiny_context, tags, tmp_path):
    base, ref = tags('base'), tags('child')
    base_dockerfile = tmp_path / 'base.Dockerfile'  # outside the child's context
    base_dockerfile.write_text('FROM %s\nRUN echo one > /base.txt\n' % DEBIAN_BASE)
    base_args = build_args(tmp_path, [base], dockerfile=str(base_dockerfile))
    assert run_module(MODULE, base_args).result['changed'] is True
    child_args = build_args(tiny_context, [ref], build_args={'BASE_IMAGE': base})
    assert run_module(MODULE, child_args).result['changed'] is True
    assert run_module(MODULE, child_args, check=True).result['changed'] is False

    base_dockerfile.write_text('FROM %s\nRUN echo two > /base.txt\n' % DEBIAN_BASE)
    assert run_module(MODULE, base_args).result['changed'] is True
    predicted = run_module(MODULE, child_args, check=True).result
    assert predicted['changed'] is True
    assert predicted['changed_inputs'] == ['base_images']


def test_missing_extra_tag_is_added_without_a_build(tiny_context, tags):
    primary, extra = tags(tag='1.0.0'), tags(tag='latest')
    built = run_module(MODULE, build_args(tiny_context, [primary])).result
    assert built['changed'] is True
    tagged = run_module(MODULE, build_args(tiny_context, [primary, extra])).result
    assert tagged['changed'] is True and tagged['operation'] == 'tag'
    assert inspect(extra)['Id'] == built['image_id']
    assert run_module(MODULE, build_args(tiny_context, [primary, extra])).result['changed'] is False


def test_force_rebuilds_unchanged_inputs(tiny_context, tags):
    ref = tags()
    first = run_module(MODULE, build_args(tiny_context, [ref])).result
    forced = run_module(MODULE, build_args(tiny_context, [ref], force=True)).result
    assert forced['changed'] is True and forced['operation'] == 'build'
    assert forced['image_id'] != first['image_id']  # a new created label, so a new image


def test_failing_build_returns_the_failing_step(tiny_context, tags):
    ref = tags()
    (tiny_context / 'Dockerfile').write_text(
        'FROM %s AS build\nRUN echo compiling\n'
        'RUN echo "fatal: broken step" >&2 && exit 3\nRUN echo never\n' % DEBIAN_BASE
    )
    run = run_module(MODULE, build_args(tiny_context, [ref]))
    result = run.result
    assert result['failed'] is True
    # BuildKit names the stage in step titles only when the Dockerfile has several.
    assert result['failed_step'] == '[3/4] RUN echo "fatal: broken step" >&2 && exit 3'
    assert 'fatal: broken step' in result['step_output'][-1]
    assert 'exit code: 3' in result['msg']
    assert result['log_tail']
    assert_no_traceback(run)
    assert inspect(ref) is None


@pytest.mark.parametrize(
    'override, message',
    [
        ({'path': '/nonexistent/context'}, "path '/nonexistent/context' is not a directory: set path"),
        ({'dockerfile': 'Dockerfile.missing'}, "dockerfile 'Dockerfile.missing' was not found"),
        ({'target': 'prod'}, "target 'prod' is not a stage of"),
        ({'tags': ['Bad Tag']}, 'tags[0] is not a valid image reference'),
        ({'tags': ['app:v1 beta']}, "invalid tag 'v1 beta'"),
        ({'docker_host': 'unix:///nonexistent/docker.sock'}, 'cannot reach the Docker engine at unix:///nonexistent'),
        ({'secrets': [{'id': 'x', 'src': '/nonexistent/secret'}]}, "secrets: the file '/nonexistent/secret'"),
        ({'docker_cli': '/nonexistent/docker'}, "docker_cli '/nonexistent/docker' is not an executable file"),
    ],
)
def test_bad_input_gets_a_clear_error_and_changes_nothing(tiny_context, tags, override, message):
    ref = tags()
    args = build_args(tiny_context, [ref], target='final')
    args.update(override)
    run = run_module(MODULE, args)
    result = run.result
    assert result['failed'] is True
    assert message in result['msg']
    assert_no_traceback(run)
    assert inspect(ref) is None


def test_unknown_target_lists_the_stages(tiny_context, tags):
    result = run_module(MODULE, build_args(tiny_context, [tags()], target='prod')).result
    assert result['msg'].endswith('its named stages are base, final')


def test_secret_reaches_the_build_but_not_the_output_or_image(tiny_context, tags):
    ref = tags()
    secret = 'itest-' + uuid.uuid4().hex
    # The Dockerfile (and so the image history) holds only the secret's digest.
    (tiny_context / 'Dockerfile').write_text(
        'FROM %s\nRUN --mount=type=secret,id=token test "$(sha256sum < /run/secrets/token | cut -d" " -f1)" = "%s" '
        '&& touch /secret-was-right\n' % (DEBIAN_BASE, hashlib.sha256(secret.encode()).hexdigest())
    )
    run = run_module(MODULE, build_args(tiny_context, [ref], secrets=[{'id': 'token', 'value': secret}]), verbosity=3)
    assert run.result['changed'] is True, run.result.get('msg')
    assert secret not in run.stdout + run.stderr
    assert secret not in docker('image', 'inspect', ref).stdout
    assert secret not in docker('history', '--no-trunc', ref).stdout
    assert docker('run', '--rm', ref, 'test', '-f', '/secret-was-right', check=False).returncode == 0
