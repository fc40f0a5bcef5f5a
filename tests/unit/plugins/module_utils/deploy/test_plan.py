import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.plan import ServiceSpec, plan_service


class FakeContainer:
    def __init__(self, number, config_hash='h1', image_id='img1', status='running', health='healthy', service='app'):
        self.service = service
        self.number = number
        self.name = 'p-%s-%d' % (service, number)
        self.config_hash = config_hash
        self.image_id = image_id
        self.status = status
        self.health = health

    @property
    def running(self):
        return self.status == 'running'


def rolling(replicas=2, config_hash='h1', image_id='img1'):
    return ServiceSpec('app', 'rolling', replicas, config_hash, image_id, port=3000, upstream='p_app')


def recreate(replicas=1, config_hash='h1', image_id='img1'):
    return ServiceSpec('db', 'recreate', replicas, config_hash, image_id)


def test_rolling_first_deploy_creates_all_replicas():
    plan = plan_service(rolling(), [])
    assert (plan.action, plan.add, plan.keep, plan.remove) == ('create', 2, [], [])


def test_rolling_up_to_date_does_nothing():
    containers = [FakeContainer(1), FakeContainer(2)]
    plan = plan_service(rolling(), containers)
    assert plan.action == 'none' and plan.keep == containers and not plan.changes


@pytest.mark.parametrize(
    'spec, reason',
    [
        (rolling(config_hash='h2'), 'the service configuration changed'),
        (rolling(image_id='img2'), 'the image changed'),
        (rolling(image_id=None), 'the image is not on the host yet'),
    ],
)
def test_rolling_new_release_replaces_every_replica(spec, reason):
    old = [FakeContainer(1), FakeContainer(2)]
    plan = plan_service(spec, old)
    assert (plan.action, plan.add, plan.keep, plan.remove, plan.reason) == ('update', 2, [], old, reason)


def test_rolling_interrupted_deploy_keeps_the_new_healthy_containers():
    old = [FakeContainer(1), FakeContainer(2)]
    new = [FakeContainer(3, config_hash='h2'), FakeContainer(4, config_hash='h2', health='starting')]
    plan = plan_service(rolling(config_hash='h2'), old + new)
    assert plan.action == 'update'
    assert plan.keep == [new[0]]
    assert plan.add == 1
    assert plan.remove == [*old, new[1]]


def test_rolling_unhealthy_and_stopped_replicas_are_replaced():
    containers = [
        FakeContainer(1, health='unhealthy'),
        FakeContainer(2, status='exited', health=None),
        FakeContainer(3),
    ]
    plan = plan_service(rolling(), containers)
    assert plan.action == 'update' and plan.add == 1
    assert plan.keep == [containers[2]] and plan.remove == containers[:2]


def test_rolling_extra_replicas_are_scaled_down():
    containers = [FakeContainer(n) for n in (1, 2, 3)]
    plan = plan_service(rolling(replicas=2), containers)
    assert (plan.action, plan.add, plan.keep, plan.remove) == ('scale', 0, containers[:2], containers[2:])
    assert plan.reason == '3 replicas run, 2 wanted'


def test_other_services_containers_are_ignored():
    plan = plan_service(rolling(), [FakeContainer(1, service='db'), FakeContainer(1), FakeContainer(2)])
    assert plan.action == 'none' and len(plan.keep) == 2


def test_recreate_first_deploy_and_up_to_date():
    assert plan_service(recreate(), []).action == 'create'
    assert plan_service(recreate(), [FakeContainer(1, service='db')]).action == 'none'


@pytest.mark.parametrize(
    'container, reason',
    [
        (FakeContainer(1, service='db', config_hash='old'), 'the service configuration changed'),
        (FakeContainer(1, service='db', status='exited'), 'p-db-1 not running'),
    ],
)
def test_recreate_updates_changed_or_stopped(container, reason):
    plan = plan_service(recreate(), [container])
    assert plan.action == 'update' and plan.reason == reason


def test_plan_as_dict_names_containers():
    old = [FakeContainer(1)]
    assert plan_service(rolling(replicas=1, image_id='img2'), old).as_dict() == {
        'strategy': 'rolling',
        'action': 'update',
        'reason': 'the image changed',
        'replicas': 1,
        'keep': [],
        'add': 1,
        'remove': ['p-app-1'],
    }
