# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. It checks image references with the grammar of the
# distribution/reference package that Docker uses, so a bad tag is refused
# with a useful message before anything runs.

from __future__ import annotations

import re

from ansible_collections.auraspeak.ops.plugins.module_utils._common.names import VERSION_RULE, is_version

_DOMAIN_COMPONENT = r'(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
_DOMAIN = re.compile(r'^%s(?:\.%s)*(?::[0-9]+)?$' % (_DOMAIN_COMPONENT, _DOMAIN_COMPONENT))
_PATH_COMPONENT = re.compile(r'^[a-z0-9]+(?:(?:[_.]|__|-+)[a-z0-9]+)*$')
MAX_NAME_LENGTH = 255


class InvalidReference(ValueError):
    pass


def split_reference(ref):
    """Split 'name[:tag]' into (name, tag); the tag defaults to 'latest'.

    Raises InvalidReference with a message that says what is allowed.
    """
    if not isinstance(ref, str) or not ref:
        raise InvalidReference('an image tag must be a non-empty string')
    if '@' in ref:
        raise InvalidReference('%r has a digest: a build can only be given name[:tag] references' % ref)
    name, tag = ref, 'latest'
    last_slash = ref.rfind('/')
    colon = ref.rfind(':')
    if colon > last_slash:
        name, tag = ref[:colon], ref[colon + 1 :]
        if not is_version(tag):
            raise InvalidReference('%r has an invalid tag %r: use %s' % (ref, tag, VERSION_RULE))
    _check_name(ref, name)
    return name, tag


def _check_name(ref, name):
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidReference('%r: the repository name is longer than %d characters' % (ref, MAX_NAME_LENGTH))
    components = name.split('/')
    if len(components) > 1 and _looks_like_domain(components[0]):
        if not _DOMAIN.match(components[0]):
            raise InvalidReference('%r: %r is not a valid registry host' % (ref, components[0]))
        components = components[1:]
    for component in components:
        if not _PATH_COMPONENT.match(component):
            raise InvalidReference(
                '%r: the name part %r is invalid: use lowercase letters and digits, '
                "separated by '.', '_', '__' or '-'" % (ref, component)
            )


def _looks_like_domain(component):
    return '.' in component or ':' in component or component == 'localhost' or component != component.lower()


def normalize(ref):
    """'app' -> 'app:latest', so references can be compared."""
    name, tag = split_reference(ref)
    return '%s:%s' % (name, tag)
