# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. It removes the images of releases older than the retention
# window, and nothing else: not an image a retained release uses, not one a
# container still uses, not one whose tag has since moved to another image.

from __future__ import annotations

from ansible_collections.auraspeak.ops.plugins.module_utils._common.docker_cli import DockerCLIError
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.ledger import prunable_images


def prune_images(engine, data, keep, warn):
    """Remove what the ledger says may go; returns the references removed.

    It runs once the release is live and recorded: an engine that fails now is a warning, and the next
    deploy prunes what this one left.
    """
    removed = []
    for image in prunable_images(data, keep):
        try:
            found = engine.inspect_image(image['ref'])
        except DockerCLIError as exc:
            warn("old releases' images were not pruned (%s); the next deploy prunes them" % exc.msg)
            return removed
        if not found or found['Id'] != image['id']:
            continue  # gone already, or the tag now names another image: not ours to remove
        refused = engine.remove_image(image['ref'])
        if refused is None:
            removed.append(image['ref'])
        elif 'being used' not in refused and 'conflict' not in refused:
            warn('could not remove %s of an old release: %s' % (image['ref'], refused))
    return removed
