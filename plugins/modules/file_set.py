#!/usr/bin/python
# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: file_set
short_description: Write a set of files under one directory in one call
version_added: 0.2.0
description:
  - Writes each file of O(files) under O(root) with its content, mode and owner, creating the
    directories between (mode C(0755), owned by the user the module runs as). A file that is already as
    asked is left alone; the others are replaced atomically (a temporary file in the same directory,
    fsync, rename).
  - One call for a whole set of rendered files, where one C(ansible.builtin.copy) or
    C(ansible.builtin.template) task per file costs a round trip each. The app role renders its compose
    project (environment file, secret files, compose file, ...) into a scratch directory this way.
  - The contents are never shown. Each file's O(files[].content) is C(no_log), so a secret in any file
    stays out of the output at any verbosity, and no diff is returned.
extends_documentation_fragment:
  - auraspeak.ops.attributes
options:
  root:
    description: The directory the files go under. It must exist.
    type: path
    required: true
  directories:
    description:
      - Directories under O(root) to create even when no file of O(files) lies in them (relative paths,
        mode C(0755)).
    type: list
    elements: str
    default: []
  files:
    description: The files, each a mapping.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: The file's path under O(root), relative, without C(..).
        type: str
        required: true
      content:
        description: The whole content of the file (text, written as UTF-8).
        type: str
        required: true
      mode:
        description: The file's mode, in octal, for example V('0600').
        type: str
        default: '0644'
      owner:
        description: The owning user, a name or a numeric id.
        type: str
        default: '0'
      group:
        description: The owning group, a name or a numeric id; left as the file gets it when unset.
        type: str
attributes:
  check_mode:
    support: full
    details: Reports the files that would be written, and writes nothing.
  diff_mode:
    support: none
    details: The contents may be secrets and are never shown.
  idempotent:
    support: full
    details: A file whose content, mode and owner are already as asked is not written again.
author:
  - auraspeak.ops contributors (@auraspeak)
"""

EXAMPLES = r"""
- name: Render a project into a directory in one call
  auraspeak.ops.file_set:
    root: /srv/project
    files:
      - path: compose.yaml
        content: "{{ lookup('ansible.builtin.template', 'compose.yaml.j2') }}"
      - path: secrets/db_password
        content: "{{ db_password }}"
        mode: "0400"
        owner: "999"
        group: "999"
"""

RETURN = r"""
written:
  description: The directories created and the files written under O(root) (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [compose.yaml, secrets/db_password]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.auraspeak.ops.plugins.module_utils._common.file_set import FileSetError, write_set


def main():
    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type='path', required=True),
            directories=dict(type='list', elements='str', default=[]),
            files=dict(
                type='list',
                elements='dict',
                required=True,
                options=dict(
                    path=dict(type='str', required=True),
                    content=dict(type='str', required=True, no_log=True),
                    mode=dict(type='str', default='0644'),
                    owner=dict(type='str', default='0'),
                    group=dict(type='str'),
                ),
            ),
        ),
        supports_check_mode=True,
    )
    try:
        written = write_set(
            module.params['root'], module.params['files'], module.params['directories'], module.check_mode
        )
    except (FileSetError, OSError, ValueError) as err:
        module.fail_json(msg=str(err))
    module.exit_json(changed=bool(written), written=written)


if __name__ == '__main__':
    main()
