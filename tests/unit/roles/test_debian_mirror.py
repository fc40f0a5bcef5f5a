import importlib.util
import os

import pytest

SCRIPT = os.path.join(
    os.path.dirname(__file__), '..', '..', '..', 'roles', 'offline_images', 'files', 'debian-mirror.py'
)


@pytest.fixture(scope='module')
def mirror():
    spec = importlib.util.spec_from_file_location('debian_mirror', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DEB822 = """\
Types: deb
# a comment line inside the stanza
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main
"""

ONE_LINE = """\
# deb http://commented.example/debian bookworm main
deb-src http://src.example/debian bookworm main
deb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bookworm main contrib
deb http://other.example/debian trixie main
"""


@pytest.mark.parametrize(
    'files, codename, expected',
    [
        ([('/etc/apt/sources.list.d/debian.sources', DEB822)], 'bookworm', 'http://mirror.example/debian'),
        ([('/etc/apt/sources.list', ONE_LINE)], 'bookworm', 'http://one.example/debian'),
        ([('/etc/apt/sources.list', ONE_LINE)], 'trixie', 'http://other.example/debian'),
        (
            [('/etc/apt/sources.list.d/debian.sources', DEB822)],
            'bookworm-security',
            'http://security.example/debian-security',
        ),
        ([('/etc/apt/sources.list', ONE_LINE)], 'sid', None),
        (
            [
                (
                    '/etc/apt/sources.list.d/x.sources',
                    'Types: deb\nEnabled: no\nURIs: http://off.example\nSuites: bookworm\n',
                )
            ],
            'bookworm',
            None,
        ),
    ],
)
def test_find_mirror(mirror, files, codename, expected):
    assert mirror.find_mirror(files, codename) == expected
