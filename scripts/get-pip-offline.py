# Copyright: (c) 2026, auraspeak.ops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Offline stand-in for the get-pip.py that ansible-test downloads.

ansible-test bootstraps pip in its per-test virtualenvs with a get-pip script
fetched from a host these machines cannot reach; it uses a cached copy at
~/.ansible/test/cache/get_pip_<version>.py instead when one exists, and
scripts/sanity.sh puts this file there. It installs pip with ensurepip, then
runs `pip install` with the arguments get-pip.py was given.
"""

import os
import subprocess
import sys

# ensurepip points PIP_CONFIG_FILE at /dev/null in this process, which would
# hide the machine's pip configuration (its package index) from the install.
SAVED_ENVIRONMENT = dict(os.environ)

import ensurepip  # noqa: E402  (must come after saving the environment)

ensurepip.bootstrap(upgrade=True)
args = [arg for arg in sys.argv[1:] if arg not in ('--no-setuptools', '--no-wheel')]
sys.exit(subprocess.call([sys.executable, '-m', 'pip', 'install'] + args, env=SAVED_ENVIRONMENT))
