# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. It reads BuildKit's plain progress output to say which build
# step failed and why, instead of handing the user a wall of log.

from __future__ import annotations

import re

_VERTEX_TITLE = re.compile(r'^#(\d+) (\[.*)$')
_VERTEX_ERROR = re.compile(r'^#(\d+) ERROR: (.*)$')
_VERTEX_OUTPUT = re.compile(r'^#(\d+) [0-9.]+ (.*)$')
_DOCKERFILE_LINE = re.compile(r'^(\S*Dockerfile\S*):(\d+)$')
_FINAL_ERROR = re.compile(r'^ERROR: (.*)$')


def failed_step(log):
    """Describe the failing step of a BuildKit build from its plain progress log.

    Returns a dict with 'step' (the Dockerfile instruction as BuildKit titles it,
    or None), 'error', 'dockerfile_line' (or None) and 'output' (the last lines
    the failing step printed).
    """
    titles = {}
    outputs = {}
    failed_vertex = None
    vertex_error = None
    final_error = None
    dockerfile_line = None
    for line in (log or '').splitlines():
        title = _VERTEX_TITLE.match(line)
        if title:
            titles.setdefault(title.group(1), title.group(2))
            continue
        error = _VERTEX_ERROR.match(line)
        if error:
            if failed_vertex is None:
                failed_vertex, vertex_error = error.group(1), error.group(2)
            continue
        output = _VERTEX_OUTPUT.match(line)
        if output:
            outputs.setdefault(output.group(1), []).append(output.group(2))
            continue
        location = _DOCKERFILE_LINE.match(line.strip())
        if location:
            dockerfile_line = int(location.group(2))
            continue
        final = _FINAL_ERROR.match(line)
        if final:
            final_error = final.group(1)
    return {
        'step': titles.get(failed_vertex) if failed_vertex else None,
        'error': vertex_error or final_error or 'the build failed without an error line',
        'dockerfile_line': dockerfile_line,
        'output': outputs.get(failed_vertex, [])[-15:] if failed_vertex else [],
    }
