"""What stack_deploy decides from the engine's view of the stack: the plan, and when a service has converged."""

import base64
import copy

from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.stack_deploy import (
    HASH_LABEL,
    STACK_LABEL,
    StackDeploy,
    keep_first_start_secrets,
    last_task_error,
    plan,
    release_hash,
    service_state,
    with_hashes,
)

SPEC = {'Image': 'app:2', 'Env': ['A=1']}


def stack():
    return with_hashes(
        {
            'services': {
                'app': {'image': 'app:2', 'deploy': {'replicas': 2}, 'secrets': [{'source': 's'}]},
                'redis': {'image': 'redis:7', 'deploy': {}},
            },
            'secrets': {'s': {'name': 'p_s_aaaa', 'file': '/x'}},
        }
    )


def service(update=None):
    return {'Spec': {'TaskTemplate': {'ContainerSpec': SPEC}}, 'UpdateStatus': update}


def task(state='running', spec=None, err=None, timestamp='2026-12-06T08:00:00Z'):
    status = {'State': state, 'Timestamp': timestamp}
    if err:
        status['Err'] = err
    return {'Status': status, 'Spec': {'ContainerSpec': spec or SPEC}}


def test_the_hash_covers_the_definition_and_the_names_of_the_secrets_it_uses():
    first = stack()['services']['app']['deploy']['labels'][HASH_LABEL]
    assert stack()['services']['app']['deploy']['labels'][HASH_LABEL] == first
    other = stack()
    other['secrets']['s']['name'] = 'p_s_bbbb'
    del other['services']['app']['deploy']['labels']
    assert with_hashes(other)['services']['app']['deploy']['labels'][HASH_LABEL] != first


def test_plan_from_the_running_services_hashes():
    wanted = stack()
    app = wanted['services']['app']['deploy']['labels'][HASH_LABEL]
    assert plan(wanted, {}) == {'app': 'create', 'redis': 'create'}
    assert plan(wanted, {'app': app, 'redis': 'old', 'worker': 'x'}) == {
        'app': 'unchanged',
        'redis': 'update',
        'worker': 'remove',
    }


def test_converged_when_enough_tasks_of_the_current_definition_run():
    assert service_state(service(), [task(), task()], 2) == 'converged'
    # Old tasks (another definition) and tasks still starting (health check pending) do not count.
    old = {'Image': 'app:1', 'Env': ['A=1']}
    assert service_state(service(), [task(), task(spec=old)], 2) == 'waiting'
    assert service_state(service(), [task(), task(state='starting')], 2) == 'waiting'


def test_an_update_in_progress_waits_and_a_reverted_one_fails():
    assert service_state(service({'State': 'updating', 'StartedAt': 't2'}), [task(), task()], 2) == 'waiting'
    reverted = service({'State': 'rollback_completed', 'StartedAt': 't2', 'Message': 'rollback completed'})
    assert service_state(reverted, [task(), task()], 2) == 'failed: Swarm rolled back the update (rollback completed)'
    paused = service({'State': 'paused', 'StartedAt': 't2', 'Message': 'update paused due to failure'})
    assert service_state(paused, [], 2) == 'failed: Swarm paused the update (update paused due to failure)'
    stuck = service({'State': 'rollback_paused', 'StartedAt': 't2', 'Message': 'rollback paused'})
    assert service_state(stuck, [task()], 2) == 'failed: Swarm paused while rolling the update back (rollback paused)'


def test_a_rollback_in_progress_waits_until_the_old_definition_is_back():
    # The spec is the old one already, but its tasks are still being replaced: the deploy does not end yet.
    rolling_back = service({'State': 'rollback_started', 'StartedAt': 't2', 'Message': 'update rolling back'})
    assert service_state(rolling_back, [task(), task()], 2) == 'waiting'


def test_the_state_of_an_earlier_update_is_not_this_deploys():
    reverted_before = service({'State': 'rollback_completed', 'StartedAt': 't1'})
    assert service_state(reverted_before, [task(), task()], 2, earlier_update='t1') == 'converged'
    assert service_state(reverted_before, [task(), task()], 2, earlier_update='t0').startswith('failed')


def test_the_last_failed_tasks_error_is_reported():
    tasks = [
        task(state='failed', err='task: non-zero exit (1)', timestamp='2026-12-06T08:00:01Z'),
        task(state='failed', err='unhealthy container', timestamp='2026-12-06T08:00:09Z'),
        task(),
    ]
    assert last_task_error(tasks) == '; its last failed task: unhealthy container'
    assert last_task_error([task()]) == ''


def test_the_release_hash_follows_every_services_definition():
    first = release_hash(stack())
    assert release_hash(stack()) == first
    other = stack()
    other['services']['redis']['image'] = 'redis:7.2'
    del other['services']['redis']['deploy']['labels']
    assert release_hash(with_hashes(other)) != first


class ConfigStore:
    """The engine's Swarm configs, as far as names_key uses them."""

    def __init__(self, configs=None, made_in_between=None):
        self.configs = dict(configs or {})
        self.made_in_between = made_in_between  # another run's config, made just before this one's create

    def config(self, name):
        data = self.configs.get(name)
        return None if data is None else {'Spec': {'Name': name, 'Data': base64.b64encode(data).decode()}}

    def create_config(self, name, data, labels):
        if self.made_in_between is not None:
            self.configs[name], self.made_in_between = self.made_in_between, None
        if name in self.configs:
            return False
        assert labels == {STACK_LABEL: 'p'}
        self.configs[name] = data
        return True


def names_key(engine, check_mode=False):
    return StackDeploy({'project': 'p', 'project_dir': '/nowhere'}, None, engine, check_mode).names_key()


def test_the_first_deploy_keeps_a_random_names_key_in_the_cluster_and_later_ones_read_it():
    engine = ConfigStore()
    key = names_key(engine)
    assert len(key) == 32 and engine.configs == {'p_secret-names-key': key}
    assert names_key(engine) == key
    assert names_key(ConfigStore()) != key


def test_a_check_run_plans_with_a_key_of_its_own_and_keeps_none():
    engine = ConfigStore()
    assert len(names_key(engine, check_mode=True)) == 32 and engine.configs == {}
    kept = ConfigStore({'p_secret-names-key': b'k' * 32})
    assert names_key(kept, check_mode=True) == b'k' * 32


def test_a_key_made_by_another_run_in_between_is_the_one_used():
    engine = ConfigStore(made_in_between=b'o' * 32)
    assert names_key(engine) == b'o' * 32


def running_service(*secret_names):
    return {'Spec': {'TaskTemplate': {'ContainerSpec': {'Secrets': [{'SecretName': n} for n in secret_names]}}}}


def test_a_running_service_keeps_the_first_start_secret_it_started_with():
    rendered = {'secrets': {'postgres_password': {'name': 'p_postgres_password_bbbbbbbbbbbb', 'file': '/x'}}}
    current = {'postgres': running_service('p_postgres_password_aaaaaaaaaaaa', 'p_other_cccccccccccc')}
    kept = keep_first_start_secrets(rendered, current, 'p', ['postgres_password'])
    assert kept['secrets'] == {'postgres_password': {'name': 'p_postgres_password_aaaaaaaaaaaa', 'external': True}}


def test_first_start_secrets_of_a_stack_that_does_not_run_or_of_other_keys_are_the_new_ones():
    new = {'postgres_password': {'name': 'p_postgres_password_bbbbbbbbbbbb', 'file': '/x'}}
    assert keep_first_start_secrets({'secrets': dict(new)}, {}, 'p', ['postgres_password'])['secrets'] == new
    # A key that only begins like it (postgres_password_old) is another secret.
    current = {'postgres': running_service('p_postgres_password_old_aaaaaaaaaaaa')}
    assert keep_first_start_secrets({'secrets': dict(new)}, current, 'p', ['postgres_password'])['secrets'] == new
    assert keep_first_start_secrets({'secrets': dict(new)}, current, 'p', [])['secrets'] == new


def test_a_first_start_secret_from_a_bind_mounted_file_is_kept_and_a_dot_in_its_key_matches_only_a_dot():
    # Redis's redis.conf: the stack's key for a bind-mounted file is <service>_<basename>.
    rendered = {'secrets': {'redis_redis.conf': {'name': 'p_redis_redis.conf_bbbbbbbbbbbb', 'file': '/x'}}}
    current = {'redis': running_service('p_redis_redis.conf_aaaaaaaaaaaa')}
    kept = keep_first_start_secrets(copy.deepcopy(rendered), current, 'p', ['redis_redis.conf'])
    assert kept['secrets'] == {'redis_redis.conf': {'name': 'p_redis_redis.conf_aaaaaaaaaaaa', 'external': True}}
    other = {'redis': running_service('p_redis_redisXconf_aaaaaaaaaaaa')}
    assert keep_first_start_secrets(copy.deepcopy(rendered), other, 'p', ['redis_redis.conf']) == rendered
