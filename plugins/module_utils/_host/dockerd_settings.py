# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. It holds the docker_host role's decisions about dockerd's
# settings, as pure functions: what the running engine has (from `docker info`,
# its command line and the file it read), what a merge of daemon.json changes,
# and which settings the command line already sets.

from __future__ import annotations

import json

# `docker info` does not report no-new-privileges, userland-proxy or log options
# (20.10 lists only seccomp, apparmor, selinux, userns, rootless and cgroupns in
# SecurityOptions): those come from the flags, else from the file.
_BOOL_FLAGS = {'no-new-privileges': False, 'userland-proxy': True}


def parse_bool(text):
    """dockerd's own reading of a boolean flag's value (Go's strconv.ParseBool), or None."""
    if text in ('1', 't', 'T', 'true', 'TRUE', 'True'):
        return True
    if text in ('0', 'f', 'F', 'false', 'FALSE', 'False'):
        return False
    return None


def bool_flag(flags, name):
    """(value, the flag as written) of the last --name or --name=value, or (None, None)."""
    written = [arg for arg in flags if arg == '--' + name or arg.startswith('--%s=' % name)]
    if not written:
        return None, None
    last = written[-1]
    return (parse_bool(last.split('=', 1)[1]) if '=' in last else True), last


def log_opts(flags):
    """{option: value} of the --log-opt k=v and --log-opt=k=v flags."""
    result = {}
    for index, arg in enumerate(flags):
        if arg.startswith('--log-opt='):
            pair = arg[len('--log-opt=') :]
        elif index > 0 and flags[index - 1] == '--log-opt':
            pair = arg
        else:
            continue
        if '=' in pair:
            key, value = pair.split('=', 1)
            result[key] = value
    return result


def running_settings(flags, info, file_settings, file_source, stale):
    """{key: {'value': ..., 'source': ...}} of the settings the role manages, as the engine runs them.

    flags: dockerd's command line without the program; info: `docker info` (empty when it
    failed); file_settings: the file the engine read; stale: that file changed after the
    engine started, so it may not be what the engine runs with ('unknown' then).
    """
    info_ok = bool(info.get('ServerVersion'))
    from_info = 'docker info' if info_ok else 'docker info failed'
    file_settings = file_settings if isinstance(file_settings, dict) else {}
    result = {
        'live-restore': {'value': info.get('LiveRestoreEnabled') if info_ok else 'unknown', 'source': from_info},
        'log-driver': {'value': info.get('LoggingDriver') if info_ok else 'unknown', 'source': from_info},
    }
    for name, default in _BOOL_FLAGS.items():
        value, written = bool_flag(flags, name)
        if written:
            result[name] = {'value': value, 'source': 'dockerd flag ' + written}
        else:
            result[name] = {'value': 'unknown' if stale else file_settings.get(name, default), 'source': file_source}
    options = log_opts(flags)
    if options:
        result['log-opts'] = {'value': options, 'source': 'dockerd --log-opt flags'}
    else:
        result['log-opts'] = {'value': 'unknown' if stale else file_settings.get('log-opts', {}), 'source': file_source}
    return result


def _json(value):
    # Compared as JSON text: in Python true == 1, in daemon.json they differ.
    return json.dumps(value, sort_keys=True)


def not_in_effect(running, wanted, keys):
    """{key: {'wanted', 'running', 'source'}} of each managed setting the engine does not run with."""
    result = {}
    for key in keys:
        want = wanted.get(key, {})
        if _json(running[key]['value']) != _json(want):
            result[key] = {'wanted': want, 'running': running[key]['value'], 'source': running[key]['source']}
    return result


def changes(before, after):
    """{key: {'before'?, 'after'?}} of the keys whose value differs between two JSON objects."""
    result = {}
    for key in sorted(set(before) | set(after)):
        if key in before and key in after and _json(before[key]) == _json(after[key]):
            continue
        change = {}
        if key in before:
            change['before'] = before[key]
        if key in after:
            change['after'] = after[key]
        result[key] = change
    return result


def flag_conflicts(keys, flags, key_flags):
    """'key (flag)' for each daemon.json key that dockerd's command line also sets (dockerd refuses both)."""
    result = []
    for key in keys:
        for flag in key_flags.get(key, ['--' + key]):
            for arg in flags:
                if (arg == flag or arg.startswith(flag + '=')) and '%s (%s)' % (key, arg) not in result:
                    result.append('%s (%s)' % (key, arg))
    return result
