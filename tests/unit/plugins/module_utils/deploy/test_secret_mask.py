import re

import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.secret_mask import (
    DEFAULT_SECRET_KEYS,
    MASK,
    mask_config,
    mask_secret_flags,
    mask_url_passwords,
)

CONFIG = {
    'services': {
        'app': {
            'environment': {
                'NODE_ENV': 'production',
                'JWT_SECRET': 'x' * 40,
                'SENTRY_DSN': 'https://key@sentry.example/1',
                'DATABASE_URL': 'postgres://app:pw@postgres:5432/app',
                'REDIS_URL': 'redis://:redispw@redis:6379/0',
                'API_TOKEN': None,
            },
            'command': ['redis-server', '--requirepass', 'hunter2', '--appendonly', 'yes', '--masterauth=abc'],
        }
    },
    'secrets': {'inline': {'content': 'literal secret'}},
}


def test_secret_environment_values_are_masked():
    env = mask_config(CONFIG)['services']['app']['environment']
    assert env['NODE_ENV'] == 'production'
    assert env['JWT_SECRET'] == MASK
    assert env['SENTRY_DSN'] == MASK
    assert env['API_TOKEN'] is None  # nothing to hide, and the diff shows it is unset


def test_url_passwords_are_masked_wherever_they_are():
    env = mask_config(CONFIG)['services']['app']['environment']
    assert env['DATABASE_URL'] == 'postgres://app:%s@postgres:5432/app' % MASK
    assert env['REDIS_URL'] == 'redis://:%s@redis:6379/0' % MASK


def test_secret_flags_in_commands_and_inline_secrets_are_masked():
    masked = mask_config(CONFIG)
    assert masked['services']['app']['command'] == [
        'redis-server',
        '--requirepass',
        MASK,
        '--appendonly',
        'yes',
        '--masterauth=' + MASK,
    ]
    assert masked['secrets']['inline']['content'] == MASK


def test_extra_patterns_and_no_mutation():
    masked = mask_config(CONFIG, [r'^NODE_ENV$'])
    assert masked['services']['app']['environment']['NODE_ENV'] == MASK
    assert CONFIG['services']['app']['environment']['JWT_SECRET'] == 'x' * 40


@pytest.mark.parametrize(
    'text, expected',
    [
        ('https://user:pa55@h/x', 'https://user:%s@h/x' % MASK),
        ('no url here', 'no url here'),
        ('https://h/x', 'https://h/x'),
    ],
)
def test_mask_url_passwords(text, expected):
    assert mask_url_passwords(text) == expected


def test_flag_without_value_at_the_end():
    assert mask_secret_flags(['--password'], re.compile(DEFAULT_SECRET_KEYS, re.I)) == ['--password']


def test_known_secret_values_are_masked_whatever_their_name_and_wherever_they_appear():
    config = {
        'services': {
            'app': {
                'environment': {'STRIPE_SK': 'sk-live-1234', 'GREETING': 'hello', 'NOTE': 'key sk-live-1234 inside'},
                'command': ['run', '--sk', 'sk-live-1234'],
                'labels': {'x': 'sk-live-12345'},
            }
        }
    }
    masked = mask_config(config, secret_values=['sk-live-1234', 'sk-live-12345', ''])
    app = masked['services']['app']
    assert app['environment'] == {'STRIPE_SK': MASK, 'GREETING': 'hello', 'NOTE': 'key %s inside' % MASK}
    assert app['command'] == ['run', '--sk', MASK]
    assert app['labels'] == {'x': MASK}  # the longer secret whole, not the shorter one inside it
    assert 'sk-live' not in repr(masked)
