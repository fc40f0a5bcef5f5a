# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to the auraspeak.ops collection: its API may change
# without notice. `docker compose config` inlines every env file, so the
# configuration a deploy shows in diff mode or keeps on disk holds secrets;
# this masks them first.

from __future__ import annotations

import copy
import re

MASK = '********'
# Environment keys whose values are secret.
DEFAULT_SECRET_KEYS = r'PASS|SECRET|TOKEN|KEY|DSN|CREDENTIAL|PRIVATE|AUTH|COOKIE|SESSION'
_URL_PASSWORD = re.compile(r'(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/@:\s]*):(?P<password>[^/@\s]+)@')


def mask_url_passwords(text):
    """postgres://app:s3cret@db/app -> postgres://app:********@db/app."""
    return _URL_PASSWORD.sub(lambda m: '%s%s:%s@' % (m.group('scheme'), m.group('user'), MASK), text)


def mask_secret_flags(args, key_pattern):
    """['--requirepass', 'x', '--token=y'] -> the values masked."""
    masked = []
    hide_next = False
    for arg in args:
        text = str(arg)
        if hide_next:
            masked.append(MASK)
            hide_next = False
        elif text.startswith('-') and '=' in text and key_pattern.search(text.split('=', 1)[0]):
            masked.append(text.split('=', 1)[0] + '=' + MASK)
        else:
            masked.append(arg)
            hide_next = text.startswith('-') and bool(key_pattern.search(text))
    return masked


def mask_config(config, extra_key_patterns=(), secret_values=()):
    """A copy of a normalized compose config with secret values replaced by MASK.

    secret_values: values known to be secret, masked wherever they appear whatever the name
    of the variable that holds them.
    """
    key_pattern = re.compile('|'.join([DEFAULT_SECRET_KEYS, *extra_key_patterns]), re.IGNORECASE)
    masked = copy.deepcopy(config)
    for service in (masked.get('services') or {}).values():
        environment = service.get('environment') or {}
        for key, value in environment.items():
            if value is not None and key_pattern.search(key):
                environment[key] = MASK
        for field in ('command', 'entrypoint'):
            if isinstance(service.get(field), list):
                service[field] = mask_secret_flags(service[field], key_pattern)
    for section in ('secrets', 'configs'):
        for item in (masked.get(section) or {}).values():
            if isinstance(item, dict) and 'content' in item:
                item['content'] = MASK
    return mask_values(masked, secret_values)


def mask_values(value, secret_values=()):
    """value (dicts, lists, strings) with URL passwords and every known secret value replaced by MASK."""
    # Longest first: a secret that contains another is masked whole.
    secrets = sorted({str(v) for v in secret_values if str(v)}, key=len, reverse=True)
    return _mask_strings(value, secrets)


def _mask_strings(value, secrets):
    if isinstance(value, dict):
        return {key: _mask_strings(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask_strings(item, secrets) for item in value]
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, MASK)
        return mask_url_passwords(value)
    return value
