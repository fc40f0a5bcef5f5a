#!/usr/bin/python
# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: image_build
short_description: Build a Docker image with BuildKit, only when its inputs changed
version_added: 0.1.0
description:
  - Builds one image from a Dockerfile with C(docker buildx build) (BuildKit) and gives it one or more tags.
  - Idempotent by content. The module hashes the build inputs - the files of the context that
    C(.dockerignore) lets through (names, modes, contents, symlink targets), the Dockerfile, the
    target stage, the build arguments, the user labels and the local ids of the base images - and
    stores the hash in the label C(io.auraspeak.ops.input-hash). When the image the first tag points
    at carries the same hash, nothing is built and the module reports no change.
  - Adds the OCI labels C(org.opencontainers.image.version) (from the first tag), C(.revision) and
    C(.source) (from the git checkout holding the context) and C(.created), unless O(oci_labels=false).
    They describe the image and are not part of the input hash.
  - Why buildx and not the Docker SDK for Python - the SDK speaks the classic builder API, which has
    no BuildKit features - build secrets, cache mounts (C(RUN --mount=type=cache)), skipping stages
    the target does not need. The module runs the C(docker) CLI for inspection too, so it needs no
    Python library on the managed host.
  - A Dockerfile C(# syntax=) line makes BuildKit fetch a frontend image; on hosts without registry
    access leave it out (the built-in frontend supports C(RUN --mount)).
extends_documentation_fragment:
  - auraspeak.ops.attributes
  - auraspeak.ops.engine
  - auraspeak.ops.docker_cli
options:
  path:
    description:
      - The build context directory.
    type: path
    required: true
  dockerfile:
    description:
      - The Dockerfile, relative to O(path) or absolute.
      - A C(<dockerfile>.dockerignore) file beside it takes precedence over the context's
        C(.dockerignore), as in BuildKit.
    type: str
    default: Dockerfile
  target:
    description:
      - The stage to build. Must be a named stage (C(FROM ... AS <name>)) of the Dockerfile.
      - By default the last stage.
    type: str
  tags:
    description:
      - References to tag the image with, as V(name:tag). The first is the primary tag, the one
        whose image is compared with the inputs.
      - A name without a tag means V(name:latest).
    type: list
    elements: str
    required: true
  build_args:
    description:
      - Build arguments (C(ARG)). Values are turned into strings. They are part of the input hash
        and are passed on the command line, so do not put secrets here - use O(secrets).
    type: dict
    default: {}
  labels:
    description:
      - Labels to add to the image. They override the automatic OCI labels of the same name.
    type: dict
    default: {}
  oci_labels:
    description:
      - Add the OCI C(org.opencontainers.image.*) labels that can be known (see the description).
    type: bool
    default: true
  pull:
    description:
      - Pass C(--pull) to the build so base images are checked for newer versions in their registry.
      - Only applies when a build runs. Leave it off on hosts that cannot reach a registry.
    type: bool
    default: false
  force:
    description:
      - Build even when the inputs did not change (the build cache is still used, see O(no_cache)).
    type: bool
    default: false
  no_cache:
    description:
      - Do not use the build cache when a build runs.
    type: bool
    default: false
  cache_from:
    description:
      - External cache sources, passed to C(--cache-from) as given
        (for example V(type=registry,ref=registry.example.com/app:cache)).
    type: list
    elements: str
    default: []
  secrets:
    description:
      - Build secrets, mounted in C(RUN --mount=type=secret,id=<id>) steps and never stored in the image.
      - They are not part of the input hash; after changing a secret, rebuild with O(force=true).
    type: list
    elements: dict
    default: []
    suboptions:
      id:
        description: The secret's id in the Dockerfile.
        type: str
        required: true
      src:
        description: A file on the managed host holding the secret.
        type: path
      value:
        description: The secret itself. It reaches buildx through an environment variable, never the command line.
        type: str
attributes:
  check_mode:
    support: full
    details: Computes the input hash and compares it with the image's label; builds and tags nothing.
  diff_mode:
    support: full
    details:
      - Shows the input hash and the digest of each kind of input before and after, and which
        context files changed when the previous image carries its context manifest (contexts whose
        compressed manifest fits in 16 KiB).
  idempotent:
    support: full
    details: A second run with the same inputs builds nothing and reports no change.
notes:
  - The image the tags pointed at before a rebuild is not removed; release retention is the deploy's job.
  - Base images that are not present locally are recorded as absent; when one later appears
    locally (pulled or built), the next run rebuilds once against it.
author:
  - auraspeak.ops contributors (@auraspeak)
"""

EXAMPLES = r"""
- name: Build the production stage of the app for release 1.4.0
  auraspeak.ops.image_build:
    path: /srv/src/auraspeak-server
    target: production
    tags:
      - auraspeak/server:1.4.0
      - auraspeak/server:latest
    build_args:
      BASE_IMAGE: node:20-bookworm-slim
      APP_VERSION: 1.4.0
  register: app_image

# Running the same task again builds nothing:
# changed=false, operation=none, app_image.image_id unchanged.

- name: Build with an npm token that must not end up in the image
  auraspeak.ops.image_build:
    path: /srv/src/auraspeak-server
    target: production
    tags: [auraspeak/server:1.4.1]
    secrets:
      - id: npmrc
        value: "{{ vault_npm_token }}"
  no_log: true

- name: Predict whether a build is needed, and what changed
  auraspeak.ops.image_build:
    path: /srv/src/auraspeak-server
    target: production
    tags: [auraspeak/server:1.4.1]
  check_mode: true
  diff: true
  register: plan
"""

RETURN = r"""
image_id:
  description:
    - Id of the image the primary tag points at after the run (before it, in check mode).
    - Null in check mode when no image exists yet.
  returned: success
  type: str
  sample: sha256:5b1a1c3f9d2e4e0c0d1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f
tags:
  description: The tags, as given.
  returned: always
  type: list
  elements: str
  sample: [auraspeak/server:1.4.0, auraspeak/server:latest]
size:
  description: Size of the image in bytes.
  returned: success
  type: int
  sample: 189302847
input_hash:
  description: Hash of the build inputs, stored in the image label C(io.auraspeak.ops.input-hash).
  returned: success
  type: str
  sample: sha256:0c7d58d1b9b0a6a5e8f5e9d1d1e1bb0e7a4f2d3c8a9b0c1d2e3f405162738495
operation:
  description:
    - What the run did (or would do in check mode) - V(build), V(tag) (add missing tags to an
      up-to-date image) or V(none).
  returned: success
  type: str
  sample: build
reason:
  description: Why that action.
  returned: success
  type: str
  sample: the inputs changed
changed_inputs:
  description:
    - Kinds of input whose digest changed since the image was built - V(context), V(dockerfile),
      V(target), V(build_args), V(labels), V(base_images).
    - Empty unless a build is needed.
  returned: success
  type: list
  elements: str
  sample: [context]
changed_files:
  description: Context files added, removed or modified since the previous image was built.
  returned: when a build is needed and the previous image carries its context manifest
  type: list
  elements: str
  sample: [src/server.js]
duration:
  description: Seconds the module took.
  returned: success
  type: float
  sample: 12.41
failed_step:
  description: The build step that failed, as BuildKit titles it.
  returned: when the build fails
  type: str
  sample: "[build 4/6] RUN node --test"
dockerfile_line:
  description: Line of the Dockerfile holding the failed instruction.
  returned: when the build fails and BuildKit reports it
  type: int
  sample: 42
step_output:
  description: Last lines the failed step printed.
  returned: when the build fails
  type: list
  elements: str
  sample: ["not ok 3 - rejects a tampered token"]
log_tail:
  description: Last lines of the build log.
  returned: when the build fails
  type: list
  elements: str
  sample: ["ERROR: failed to solve: process \"/bin/sh -c node --test\" did not complete successfully: exit code: 1"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.auraspeak.ops.plugins.module_utils._build.image_build import run_image_build
from ansible_collections.auraspeak.ops.plugins.module_utils._common.docker_cli import DOCKER_CLI_ARGUMENT_SPEC


def main():
    argument_spec = dict(
        path=dict(type='path', required=True),
        dockerfile=dict(type='str', default='Dockerfile'),
        target=dict(type='str'),
        tags=dict(type='list', elements='str', required=True),
        build_args=dict(type='dict', default={}),
        labels=dict(type='dict', default={}),
        oci_labels=dict(type='bool', default=True),
        pull=dict(type='bool', default=False),
        force=dict(type='bool', default=False),
        no_cache=dict(type='bool', default=False),
        cache_from=dict(type='list', elements='str', default=[]),
        secrets=dict(
            type='list',
            elements='dict',
            default=[],
            no_log=False,
            options=dict(
                id=dict(type='str', required=True),
                src=dict(type='path'),
                value=dict(type='str', no_log=True),
            ),
            mutually_exclusive=[('src', 'value')],
            required_one_of=[('src', 'value')],
        ),
    )
    argument_spec.update(DOCKER_CLI_ARGUMENT_SPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    failed, result = run_image_build(module)
    if failed:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
