# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# The rules for the names users give, defined once: the modules check them here, and the roles
# through the auraspeak.ops.project_name and auraspeak.ops.release_version tests.

from __future__ import annotations

import re

# A Compose project name (lowercase letters, digits, '_' and '-', starting with a letter or a
# digit); it also names the project's directory under the state directory.
PROJECT = re.compile(r'^[a-z0-9][a-z0-9_-]{0,127}$')
# A release is an image tag: the OCI distribution rule for tags.
VERSION = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$')

PROJECT_RULE = "lowercase letters, digits, '_' and '-', starting with a letter or digit, at most 128"
VERSION_RULE = "letters, digits, '_', '.' and '-', not starting with '.' or '-', at most 128"


def is_project(name):
    return isinstance(name, str) and PROJECT.match(name) is not None


def is_version(version):
    return isinstance(version, str) and VERSION.match(version) is not None


def check_project(project, option='project'):
    """The project name, or ValueError naming the option and the rule."""
    if not is_project(project):
        raise ValueError(
            "%s '%s' is not a valid project name: use %s; it names the Compose project and the "
            'directory <state_dir>/<project>' % (option, project, PROJECT_RULE)
        )
    return project


def check_version(version, option='version'):
    """The version, or ValueError naming the option and the rule."""
    if not is_version(version):
        raise ValueError(
            "%s '%s' is not a valid release version: it is an image tag (%s)" % (option, version, VERSION_RULE)
        )
    return version
