# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. It fills in the OCI image labels that can be known from the
# tag and from the git checkout the context lives in.

from __future__ import annotations

import re

from ansible_collections.auraspeak.ops.plugins.module_utils._common.image_ref import split_reference

OCI_VERSION = 'org.opencontainers.image.version'
OCI_REVISION = 'org.opencontainers.image.revision'
OCI_SOURCE = 'org.opencontainers.image.source'

_URL_CREDENTIALS = re.compile(r'^(\w+://)[^/@]+@')


def strip_credentials(url):
    """Remove user:password@ from a remote URL so it can go in a public label."""
    return _URL_CREDENTIALS.sub(r'\1', url)


def version_from_tag(tag):
    _name, version = split_reference(tag)
    return None if version == 'latest' else version


def source_labels(context, primary_tag, git, run_command):
    """OCI version/revision/source labels, for the values that are known."""
    labels = {}
    version = version_from_tag(primary_tag)
    if version:
        labels[OCI_VERSION] = version
    if not git:
        return labels
    rc, out, _err = run_command([git, '-C', context, 'rev-parse', 'HEAD'])
    if rc == 0 and out.strip():
        labels[OCI_REVISION] = out.strip()
        rc, out, _err = run_command([git, '-C', context, 'remote', 'get-url', 'origin'])
        if rc == 0 and out.strip():
            labels[OCI_SOURCE] = strip_credentials(out.strip())
    return labels
