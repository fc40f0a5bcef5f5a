import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._build.dockerfile import DockerfileInfo, logical_lines

APP_DOCKERFILE = """\
# comment before the first instruction
ARG BASE_IMAGE=node:20-bookworm-slim
ARG TOOLS="tools:1"
FROM ${BASE_IMAGE} AS base
WORKDIR /app

FROM base AS development
RUN apt-get update \\
    # a comment inside a continued line
    && apt-get install -y git

FROM --platform=$BUILDPLATFORM base AS build
COPY --from=$TOOLS /bin/tool /bin/tool
COPY --from=base /app /app

FROM base as Production
COPY --from=build /app /app
"""


def test_stages_and_external_images():
    info = DockerfileInfo(APP_DOCKERFILE)
    assert info.stage_names == ['base', 'development', 'build', 'Production']
    assert info.external_refs == ['node:20-bookworm-slim', 'tools:1']


def test_build_args_replace_defaults():
    info = DockerfileInfo(APP_DOCKERFILE, {'BASE_IMAGE': 'auraspeak-offline/node:18'})
    assert info.external_refs[0] == 'auraspeak-offline/node:18'


@pytest.mark.parametrize('name, found', [('production', True), ('PRODUCTION', True), ('prod', False)])
def test_stage_names_are_case_insensitive(name, found):
    assert DockerfileInfo(APP_DOCKERFILE).has_stage(name) is found


def test_scratch_and_stage_indexes_are_not_images():
    info = DockerfileInfo('FROM scratch AS a\nFROM debian:12\nCOPY --from=0 /x /x\n')
    assert info.external_refs == ['debian:12']


def test_continuation_lines_are_joined():
    lines = list(logical_lines('RUN a \\\n  && b\nCMD ["x"]\n'))
    assert lines == [('RUN', 'a  && b'), ('CMD', '["x"]')]


def test_escape_directive():
    lines = list(logical_lines('# escape=`\nRUN dir `\n  c:\\\n'))
    assert lines == [('RUN', 'dir  c:\\')]
