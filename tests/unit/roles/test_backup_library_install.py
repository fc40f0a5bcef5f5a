"""The backup role installs the host command's library as a copy of module_utils/_backup plus the
modules of _common it imports (roles/backup/tasks/install.yml lists those): a module imported but
not copied breaks the command on the host, in cron, while the same code passes as a module."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
BACKUP = ROOT / 'plugins' / 'module_utils' / '_backup'


def copied_common_modules():
    tasks = yaml.safe_load((ROOT / 'roles' / 'backup' / 'tasks' / 'install.yml').read_text(encoding='utf-8'))
    loop = next(task['loop'] for task in tasks if task['name'] == 'install | Install the library')
    return set(re.findall(r"'_common/(\w+)\.py'", loop))


def imported_common_modules():
    imported = set()
    for source in BACKUP.glob('*.py'):
        imported.update(re.findall(r'^from \.\._common\.(\w+) import', source.read_text(encoding='utf-8'), re.M))
    return imported


def test_every_common_module_the_library_imports_is_installed_with_it():
    assert imported_common_modules() <= copied_common_modules() - {'__init__'}
    assert 'clock' in imported_common_modules()  # the scan finds imports at all


def test_the_library_imports_nothing_else_of_the_collection():
    for source in BACKUP.glob('*.py'):
        text = source.read_text(encoding='utf-8')
        assert not re.search(r'^from \.\.(?!_common\.)\w', text, re.M), source.name
        assert 'ansible_collections' not in text and 'import ansible' not in text, source.name
