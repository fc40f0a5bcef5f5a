# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. It implements the .dockerignore rules Docker and BuildKit use,
# so that a build context is hashed exactly as the builder will see it.

from __future__ import annotations

import posixpath
import re


class IgnorePattern:
    """One .dockerignore line: a glob that excludes, or with '!' re-includes."""

    def __init__(self, text):
        self.text = text
        self.exclusion = text.startswith('!')
        body = text[1:].strip() if self.exclusion else text
        body = _clean(body)
        self.body = body
        self.regex = re.compile(_glob_to_regex(body))
        self.literal_dirs = _literal_dirs(body)

    def matches(self, relpath):
        """True when the pattern matches relpath or one of its parent directories."""
        if self.regex.match(relpath):
            return True
        parts = relpath.split('/')
        return any(self.regex.match('/'.join(parts[:depth])) for depth in range(1, len(parts)))

    def could_match_inside(self, dirpath):
        """False only when no path under dirpath can match (lets the walk prune)."""
        dir_parts = dirpath.split('/')
        shared = min(len(dir_parts), len(self.literal_dirs))
        return dir_parts[:shared] == self.literal_dirs[:shared]


class IgnoreRules:
    """All patterns of one .dockerignore file, applied in order: the last match wins."""

    def __init__(self, lines=()):
        self.patterns = []
        for line in lines:
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            if line in ('!', '/', '!/'):
                continue
            self.patterns.append(IgnorePattern(line))
        self.has_exclusions = any(p.exclusion for p in self.patterns)

    @classmethod
    def from_text(cls, text):
        return cls(text.splitlines())

    def is_ignored(self, relpath):
        ignored = False
        for pattern in self.patterns:
            if pattern.matches(relpath):
                ignored = not pattern.exclusion
        return ignored

    def can_prune(self, dirpath):
        """An ignored directory can be skipped whole unless a '!' pattern reaches inside it."""
        return not any(p.exclusion and p.could_match_inside(dirpath) for p in self.patterns)


def _clean(path):
    """Normalize a pattern the way Go's filepath.Clean does, without a leading '/'."""
    path = path.replace('\\/', '/')
    cleaned = posixpath.normpath(path) if path else path
    cleaned = cleaned.lstrip('/')
    if cleaned in ('.', ''):
        return '.'
    return cleaned


def _literal_dirs(body):
    """The leading path components of a pattern that contain no glob characters."""
    parts = []
    for part in body.split('/')[:-1]:
        if any(ch in part for ch in '*?[\\'):
            break
        parts.append(part)
    return parts


def _glob_to_regex(pattern):
    """Translate a .dockerignore glob to an anchored regular expression.

    '*' and '?' never cross '/', '**' crosses any number of directories
    (including none), '[...]' is a character class, and '\\' escapes.
    """
    out = ['^']
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == '*':
            if i + 1 < n and pattern[i + 1] == '*':
                i += 2
                if i < n and pattern[i] == '/':
                    # '**/' matches zero or more whole directories.
                    out.append('(?:.*/)?')
                    i += 1
                else:
                    out.append('.*')
                continue
            out.append('[^/]*')
        elif ch == '?':
            out.append('[^/]')
        elif ch == '[':
            end = pattern.find(']', i + 1)
            if end == -1:
                out.append(re.escape(ch))
            else:
                klass = pattern[i + 1 : end]
                if klass.startswith('^') or klass.startswith('!'):
                    klass = '^' + klass[1:]
                out.append('[' + klass.replace('\\', '\\\\') + ']')
                i = end
        elif ch == '\\' and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    out.append('$')
    return ''.join(out)
