import os

from ansible_collections.auraspeak.ops.plugins.module_utils._build.build_log import failed_step

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures')


def read_fixture(name):
    with open(os.path.join(FIXTURES, name), encoding='utf-8') as handle:
        return handle.read()


def test_failed_run_step_from_recorded_buildx_output():
    step = failed_step(read_fixture('buildx-0.13-engine-20.10-run-failed.txt'))
    assert step['step'] == '[build 2/3] RUN echo "compiling" && ls /nonexistent-dir'
    assert 'exit code: 2' in step['error']
    assert step['output'][-1] == "ls: cannot access '/nonexistent-dir': No such file or directory"
    assert step['dockerfile_line'] is None  # BuildKit 0.8 in Engine 20.10 does not print it


def test_error_before_any_step_uses_the_final_error_line():
    log = (
        '#2 [internal] load .dockerignore\n#2 DONE 0.0s\n'
        'ERROR: failed to solve: rpc error: code = Unknown desc = failed to create LLB '
        'definition: target stage nope could not be found\n'
    )
    step = failed_step(log)
    assert step['step'] is None
    assert step['error'].endswith('target stage nope could not be found')


def test_newer_buildkit_reports_the_dockerfile_line():
    # Shape of BuildKit >= 0.10 output, which adds the Dockerfile excerpt.
    log = (
        '#9 [build 3/4] RUN node --test\n#9 0.51 not ok 1 - signs\n'
        '#9 ERROR: process "/bin/sh -c node --test" did not complete successfully: exit code: 1\n'
        '------\nDockerfile:21\n--------------------\n  21 | >>> RUN node --test\n'
        '--------------------\nERROR: failed to solve: process "/bin/sh -c node --test" did not '
        'complete successfully: exit code: 1\n'
    )
    step = failed_step(log)
    assert step['step'] == '[build 3/4] RUN node --test'
    assert step['dockerfile_line'] == 21
    assert step['output'] == ['not ok 1 - signs']


def test_empty_log():
    assert failed_step('')['error'] == 'the build failed without an error line'
