# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Print the Debian mirror this host's apt already uses for its release.

Reads /etc/apt/sources.list and /etc/apt/sources.list.d/*.list|*.sources (both
the one-line and the deb822 formats) and prints the URI of the first enabled
'deb' entry for the host's codename (not -security, not -updates). The
project never writes a mirror's host name into its files: it asks the host.
Exit 2 when none is found.
"""

import glob
import os
import sys

APT_DIR = '/etc/apt'


def one_line_entries(text):
    for line in text.splitlines():
        line = line.split('#', 1)[0].strip()
        if not line.startswith('deb '):
            continue
        words = line.split()[1:]
        if words and words[0].startswith('['):
            while words and not words[0].endswith(']'):
                words.pop(0)
            words = words[1:]
        if len(words) >= 2:
            yield words[0], [words[1]]


def deb822_entries(text):
    for stanza in text.split('\n\n'):
        fields = {}
        for line in stanza.splitlines():
            if line.startswith('#') or ':' not in line or line[:1].isspace():
                continue
            key, value = line.split(':', 1)
            fields[key.strip().lower()] = value.split()
        if 'deb' not in fields.get('types', []) or fields.get('enabled', ['yes'])[0] == 'no':
            continue
        for uri in fields.get('uris', []):
            yield uri, fields.get('suites', [])


def find_mirror(files, codename):
    """files: iterable of (path, text). Returns the mirror URI or None."""
    for path, text in files:
        entries = deb822_entries(text) if path.endswith('.sources') else one_line_entries(text)
        for uri, suites in entries:
            if codename in suites:
                return uri.rstrip('/')
    return None


def host_codename(os_release='/etc/os-release'):
    with open(os_release, encoding='utf-8') as handle:
        for line in handle:
            if line.startswith('VERSION_CODENAME='):
                return line.split('=', 1)[1].strip().strip('"')
    return None


def source_files(apt_dir=APT_DIR):
    paths = [os.path.join(apt_dir, 'sources.list')]
    paths += sorted(glob.glob(os.path.join(apt_dir, 'sources.list.d', '*.list')))
    paths += sorted(glob.glob(os.path.join(apt_dir, 'sources.list.d', '*.sources')))
    for path in paths:
        if os.path.isfile(path):
            with open(path, encoding='utf-8') as handle:
                yield path, handle.read()


def main():
    codename = sys.argv[1] if len(sys.argv) > 1 else host_codename()
    mirror = find_mirror(source_files(), codename)
    if not mirror:
        sys.stderr.write('no enabled deb source for %s found in %s/sources.list{,.d}\n' % (codename, APT_DIR))
        return 2
    print(mirror)
    return 0


if __name__ == '__main__':
    sys.exit(main())
