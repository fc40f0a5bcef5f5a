"""The compose model (as `docker compose config --format json` prints it) rendered as a Swarm stack."""

import hashlib

import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.stack_render import (
    StackError,
    StackRender,
    restart_policy,
    secret_names,
    service_owner,
    tmpfs_mount,
)

KEY = b'the project key of 32 bytes.....'
FILES = {
    '/etc/p/secrets/app/JWT_SECRET': b'jwt-0123456789',
    '/etc/p/secrets/postgres_password': b'pg',
    '/etc/p/secrets/redis.conf': b'requirepass r\n',
}


def model():
    """The shape of the app role's project after `docker compose config` (trimmed)."""
    return {
        'name': 'p',
        'x-hardening': {'read_only': True},
        'services': {
            'app': {
                'image': 'app:1',
                'user': '1000:1000',
                'restart': 'on-failure:5',
                'read_only': True,
                'security_opt': ['no-new-privileges:true'],
                'depends_on': {'postgres': {'condition': 'service_healthy', 'required': True}},
                'env_file': [{'path': '/etc/p/app.env', 'required': True}],
                'environment': {'JWT_SECRET_FILE': '/run/secrets/JWT_SECRET'},
                'secrets': [{'source': 'app_JWT_SECRET', 'target': 'JWT_SECRET'}],
                'tmpfs': ['/tmp:size=64m,mode=1777'],
                'deploy': {'replicas': 2, 'resources': {'limits': {'cpus': '1.0', 'memory': '512m', 'pids': 256}}},
                'networks': {'internal': None, 'edge': None},
            },
            'postgres': {
                'image': 'postgres:15',
                'user': '999:999',
                'restart': 'on-failure:5',
                'shm_size': '256m',
                'secrets': [{'source': 'postgres_password', 'target': '/run/secrets/postgres_password'}],
                'volumes': [
                    {'type': 'volume', 'source': 'postgres-data', 'target': '/var/lib/postgresql/data', 'volume': {}}
                ],
                'networks': {'internal': None},
            },
            'redis': {
                'image': 'redis:7',
                'user': '999:999',
                'volumes': [
                    {
                        'type': 'bind',
                        'source': '/etc/p/secrets/redis.conf',
                        'target': '/usr/local/etc/redis/redis.conf',
                        'read_only': True,
                        'bind': {'create_host_path': True},
                    },
                ],
                'networks': {'internal': None},
            },
        },
        'networks': {
            'internal': {'internal': True, 'name': 'p_internal'},
            'edge': {'external': True, 'name': 'p_edge'},
        },
        'volumes': {'postgres-data': {'name': 'p_postgres-data'}},
        'secrets': {
            'app_JWT_SECRET': {'file': '/etc/p/secrets/app/JWT_SECRET', 'name': 'p_app_JWT_SECRET'},
            'postgres_password': {'file': '/etc/p/secrets/postgres_password', 'name': 'p_postgres_password'},
        },
    }


def render(files=None, **kwargs):
    contents = dict(FILES, **(files or {}))
    kwargs.setdefault('placement', {'app': 'app', 'postgres': 'data', 'redis': 'data'})
    kwargs.setdefault('names_key', KEY)
    renderer = StackRender('p', read_file=contents.__getitem__, config_dir='/etc/p', **kwargs)
    return renderer.render(model()), renderer.notes


def test_a_stack_of_version_3_9_without_what_compose_alone_knows():
    stack, _notes = render()
    assert stack['version'] == '3.9'
    assert 'name' not in stack and 'x-hardening' not in stack
    assert stack['volumes'] == {'postgres-data': {}}
    assert stack['networks']['internal'] == {'internal': True, 'driver': 'overlay', 'attachable': True}


def test_services_are_placed_by_node_role_and_reached_by_dns_round_robin():
    services = render()[0]['services']
    assert services['app']['deploy']['placement'] == {'constraints': ['node.labels.auraspeak.app == true']}
    assert services['postgres']['deploy']['placement'] == {'constraints': ['node.labels.auraspeak.data == true']}
    assert {service['deploy']['endpoint_mode'] for service in services.values()} == {'dnsrr'}
    assert services['app']['deploy']['replicas'] == 2


def test_what_swarm_cannot_do_is_dropped_with_a_note():
    stack, notes = render()
    app = stack['services']['app']
    assert 'depends_on' not in app and 'security_opt' not in app and 'restart' not in app
    # Swarm (API 1.41) takes memory, CPU and process limits alike.
    assert app['deploy']['resources']['limits'] == {'cpus': '1.0', 'memory': '512m', 'pids': 256}
    assert any(note.startswith('app: depends_on dropped') for note in notes)
    assert any(note.startswith('app: security_opt dropped') for note in notes)


def test_restart_tmpfs_and_shared_memory_in_swarms_forms():
    services = render()[0]['services']
    assert services['app']['deploy']['restart_policy'] == {'condition': 'on-failure', 'delay': '5s', 'max_attempts': 5}
    assert services['app']['volumes'] == [{'type': 'tmpfs', 'target': '/tmp', 'tmpfs': {'size': 64 * 1024**2}}]
    assert services['postgres']['volumes'] == [
        {'type': 'volume', 'source': 'postgres-data', 'target': '/var/lib/postgresql/data'},
        {'type': 'tmpfs', 'target': '/dev/shm', 'tmpfs': {'size': 256 * 1024**2}},
    ]
    assert services['app']['env_file'] == ['/etc/p/app.env']


@pytest.mark.parametrize(
    ('restart', 'policy'),
    [
        (None, {'condition': 'none'}),
        ('no', {'condition': 'none'}),
        ('always', {'condition': 'any', 'delay': '5s'}),
        ('unless-stopped', {'condition': 'any', 'delay': '5s'}),
        ('on-failure', {'condition': 'on-failure', 'delay': '5s'}),
    ],
)
def test_restart_policies(restart, policy):
    assert restart_policy(restart) == policy


def test_tmpfs_options_swarm_does_not_take_are_left_out():
    assert tmpfs_mount('/run/pg:size=1m,uid=999,gid=999,mode=0775') == {
        'type': 'tmpfs',
        'target': '/run/pg',
        'tmpfs': {'size': 1024**2},
    }
    assert tmpfs_mount('/scratch') == {'type': 'tmpfs', 'target': '/scratch'}


def test_a_bind_mounted_project_file_becomes_a_secret_at_the_same_path_for_the_services_user():
    stack, _notes = render()
    redis = stack['services']['redis']
    assert 'volumes' not in redis
    target = '/usr/local/etc/redis/redis.conf'
    assert redis['secrets'] == [
        {'source': 'redis_redis.conf', 'target': target, 'uid': '999', 'gid': '999', 'mode': 0o400},
    ]
    assert stack['secrets']['redis_redis.conf']['file'] == '/etc/p/secrets/redis.conf'


def test_a_bind_mount_from_outside_the_project_is_refused():
    source = model()
    source['services']['redis']['volumes'][0]['source'] = '/srv/elsewhere/redis.conf'
    renderer = StackRender('p', {}, read_file=lambda path: b'', names_key=KEY, config_dir='/etc/p')
    with pytest.raises(StackError, match=r'bind-mounts /srv/elsewhere/redis\.conf, which is not a file of the project'):
        renderer.render(source)


def with_repository_mount(service):
    source = model()
    source['services'][service]['volumes'].append(
        {'type': 'bind', 'source': '/srv/backups/pgbackrest/', 'target': '/var/lib/pgbackrest', 'bind': {}}
    )
    return source


def test_a_node_directory_stays_a_bind_mount_of_a_placed_service_with_a_note():
    renderer = StackRender(
        'p', {'postgres': 'data'}, FILES.__getitem__, KEY, config_dir='/etc/p', node_dirs=['/srv/backups/pgbackrest']
    )
    stack = renderer.render(with_repository_mount('postgres'))
    mounts = [m for m in stack['services']['postgres']['volumes'] if m.get('type') == 'bind']
    # Swarm's stack files have no create_host_path: Swarm never creates the directory.
    assert mounts == [{'type': 'bind', 'source': '/srv/backups/pgbackrest/', 'target': '/var/lib/pgbackrest'}]
    assert 'postgres: /srv/backups/pgbackrest/ stays a bind mount: every node labelled data must have it' in (
        renderer.notes
    )
    assert 'postgres_pgbackrest' not in stack['secrets']


def test_a_node_directory_of_a_service_placed_nowhere_is_refused():
    renderer = StackRender('p', {}, FILES.__getitem__, KEY, config_dir='/etc/p', node_dirs=['/srv/backups/pgbackrest'])
    with pytest.raises(StackError, match=r'service postgres bind-mounts the node directory .* place the service'):
        renderer.render(with_repository_mount('postgres'))


def test_a_service_with_network_mode_is_refused():
    source = model()
    source['services']['redis']['network_mode'] = 'none'
    renderer = StackRender('p', {}, read_file=FILES.__getitem__, names_key=KEY, config_dir='/etc/p')
    with pytest.raises(StackError, match='service redis uses network_mode'):
        renderer.render(source)


def test_secret_files_are_readable_by_the_services_user_alone():
    services = render()[0]['services']
    assert services['app']['secrets'] == [
        {'source': 'app_JWT_SECRET', 'target': 'JWT_SECRET', 'uid': '1000', 'gid': '1000', 'mode': 0o400}
    ]
    assert service_owner('999') == {'uid': '999', 'gid': '999'}
    assert service_owner('node') == {}


def test_a_secrets_name_changes_with_its_own_content_and_only_then():
    first = render()[0]['secrets']
    assert render()[0]['secrets'] == first
    rotated = render(files={'/etc/p/secrets/app/JWT_SECRET': b'jwt-rotated-0123456789'})[0]['secrets']
    assert rotated['app_JWT_SECRET']['name'] != first['app_JWT_SECRET']['name']
    # The other secrets keep their names, so the services that mount them are not updated.
    assert {key: s for key, s in rotated.items() if key != 'app_JWT_SECRET'} == {
        key: s for key, s in first.items() if key != 'app_JWT_SECRET'
    }
    assert first['postgres_password']['name'].startswith('p_postgres_password_')


def test_a_name_does_not_reveal_a_weak_secret_without_the_projects_key():
    weak = secret_names('p', {'pw': b'pg'}, KEY)['pw']
    assert weak == secret_names('p', {'pw': b'pg'}, KEY)['pw']
    assert weak != secret_names('p', {'pw': b'pg'}, b'another key of 32 bytes .........')['pw']
    assert not weak.endswith(hashlib.sha256(b'pg').hexdigest()[:12])
    assert not weak.endswith(hashlib.sha256(b'pw\0pg').hexdigest()[:12])


def test_external_networks_map_to_the_clusters_network():
    stack, _notes = render(networks={'p_edge': 'p_cluster'})
    assert stack['networks']['edge'] == {'external': True, 'name': 'p_cluster'}
    assert stack['services']['app']['networks'] == ['edge', 'internal']


def test_update_and_rollback_order_per_service():
    update = {'app': {'order': 'start-first', 'parallelism': 1, 'failure_action': 'rollback', 'monitor': '5s'}}
    app = render(update=update)[0]['services']['app']['deploy']
    assert app['update_config'] == update['app']
    assert app['rollback_config'] == {'order': 'start-first', 'parallelism': 1}
    assert 'update_config' not in render(update=update)[0]['services']['postgres']['deploy']
