# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. It reads just enough of a Dockerfile to know its stages and
# the images it builds on, so that a missing target is reported before a build
# starts and a rebuilt base image triggers a rebuild.

from __future__ import annotations

import re

_VARIABLE = re.compile(r'\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-+][^}]*)?\}|([A-Za-z_][A-Za-z0-9_]*))')
_DIRECTIVE = re.compile(r'^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$')


class Stage:
    def __init__(self, index, base, name):
        self.index = index
        self.base = base
        self.name = name


class DockerfileInfo:
    """Stages of a Dockerfile and the external images it refers to."""

    def __init__(self, text, build_args=None):
        self.stages = []
        self.external_refs = []
        self._parse(text, build_args or {})

    @property
    def stage_names(self):
        return [s.name for s in self.stages if s.name]

    def has_stage(self, name):
        return name.lower() in (n.lower() for n in self.stage_names)

    def _parse(self, text, build_args):
        global_args = {}
        known = set()
        for instruction, argument in logical_lines(text):
            if instruction == 'ARG' and not self.stages:
                for name, default in _arg_definitions(argument):
                    global_args[name] = build_args.get(name, default)
            elif instruction == 'FROM':
                self._add_stage(argument, global_args, known)
            elif instruction == 'COPY':
                source = _flag_value(argument, 'from')
                if source is not None:
                    self._add_external(_expand(source, global_args), known)

    def _add_stage(self, argument, global_args, known):
        words = [w for w in argument.split() if not w.startswith('--')]
        if not words:
            return
        base = _expand(words[0], global_args)
        name = words[2] if len(words) >= 3 and words[1].lower() == 'as' else None
        self._add_external(base, known)
        self.stages.append(Stage(len(self.stages), base, name))
        if name:
            known.add(name.lower())

    def _add_external(self, ref, known):
        if not ref or ref.lower() in known or ref == 'scratch' or ref.isdigit():
            return
        if ref not in self.external_refs:
            self.external_refs.append(ref)


def logical_lines(text):
    """Yield (INSTRUCTION, argument) pairs, joining continuation lines and skipping comments."""
    escape = '\\'
    pending = ''
    in_directives = True
    for raw in text.splitlines():
        stripped = raw.strip()
        if in_directives:
            directive = _DIRECTIVE.match(stripped)
            if directive:
                if directive.group(1).lower() == 'escape':
                    escape = directive.group(2)[0]
                continue
            in_directives = False
        if not stripped or stripped.startswith('#'):
            continue
        if stripped.endswith(escape):
            pending += stripped[:-1] + ' '
            continue
        yield _split_instruction(pending + stripped)
        pending = ''
    if pending.strip():
        yield _split_instruction(pending.strip())


def _split_instruction(line):
    instruction, _sep, argument = line.partition(' ')
    return instruction.upper(), argument.strip()


def _arg_definitions(argument):
    for word in argument.split():
        name, sep, default = word.partition('=')
        yield name, _unquote(default) if sep else None


def _unquote(value):
    if len(value) >= 2 and value[0] == value[-1] and value[0] in '"\'':
        return value[1:-1]
    return value


def _flag_value(argument, flag):
    for word in argument.split():
        if word.lower().startswith('--%s=' % flag):
            return word.split('=', 1)[1]
    return None


def _expand(value, variables):
    def replace(match):
        name = match.group(1) or match.group(2)
        found = variables.get(name)
        return found if found is not None else ''

    return _VARIABLE.sub(replace, value)
