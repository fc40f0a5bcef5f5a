"""Each role's meta/argument_specs.yml stays in step with its defaults/main.yml.

Same variable names, and for every default that is not a Jinja expression,
the same value and a value of the declared type.
"""

import pathlib

import pytest
import yaml

ROLES = sorted(p for p in (pathlib.Path(__file__).parents[3] / 'roles').iterdir() if (p / 'defaults').is_dir())
TYPES = {'str': str, 'int': int, 'bool': bool, 'list': list, 'dict': dict, 'path': str, 'raw': object, 'float': float}


def load(path):
    with open(path, encoding='utf-8') as handle:
        return yaml.safe_load(handle) or {}


def main_spec(role):
    return load(role / 'meta' / 'argument_specs.yml')['argument_specs']['main']['options']


@pytest.mark.parametrize('role', ROLES, ids=[r.name for r in ROLES])
def test_same_variables(role):
    assert sorted(main_spec(role)) == sorted(load(role / 'defaults' / 'main.yml'))


@pytest.mark.parametrize('role', ROLES, ids=[r.name for r in ROLES])
def test_same_defaults_and_types(role):
    spec = main_spec(role)
    for name, value in load(role / 'defaults' / 'main.yml').items():
        option = spec[name]
        assert option.get('default') == value, '%s: argument_specs default differs from defaults/main.yml' % name
        if isinstance(value, str) and '{{' in value:
            continue
        assert isinstance(value, TYPES[option['type']]), '%s: default is not a %s' % (name, option['type'])


@pytest.mark.parametrize('role', ROLES, ids=[r.name for r in ROLES])
def test_every_option_is_described(role):
    for name, option in main_spec(role).items():
        assert option.get('description'), '%s has no description' % name


@pytest.mark.parametrize('role', ROLES, ids=[r.name for r in ROLES])
def test_public_variables_carry_the_role_prefix(role):
    for name in load(role / 'defaults' / 'main.yml'):
        assert name.startswith(role.name + '_'), name


@pytest.mark.parametrize('role', ROLES, ids=[r.name for r in ROLES])
def test_readme_documents_every_variable(role):
    readme = (role / 'README.md').read_text(encoding='utf-8')
    missing = [name for name in main_spec(role) if '`%s`' % name not in readme]
    assert not missing, 'README.md of %s does not document %s' % (role.name, missing)


SPECS = sorted(p.parent.parent for p in (pathlib.Path(__file__).parents[3] / 'roles').glob('*/meta/argument_specs.yml'))


@pytest.mark.parametrize('role', SPECS, ids=[r.name for r in SPECS])
def test_readme_documents_every_option_of_every_entry_point(role):
    readme = (role / 'README.md').read_text(encoding='utf-8')
    specs = load(role / 'meta' / 'argument_specs.yml')['argument_specs']
    missing = {entry: [n for n in spec.get('options', {}) if '`%s`' % n not in readme] for entry, spec in specs.items()}
    assert not any(missing.values()), 'README.md of %s does not document %s' % (role.name, missing)
