import json
import multiprocessing
import os
import re
import stat

import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._deploy import ledger
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.ledger import LedgerError, ReleaseLedger
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.release_info import release_info

T0 = '2026-11-26T06:00:00Z'
T1 = '2026-11-26T06:05:00Z'


def images(image_id, ref='auraspeak/server:x', **more):
    result = {'app': {'ref': ref, 'id': image_id}}
    for service, (other_ref, other_id) in more.items():
        result[service] = {'ref': other_ref, 'id': other_id}
    return result


def deploy(data, version, image_id, status='active', kind='deploy', **more_images):
    """Start and finish one release; status 'deploying' leaves it running."""
    release_id = ledger.start_release(
        data,
        version=version,
        images=images(image_id, 'auraspeak/server:%s' % version, **more_images),
        config_hash='sha256:cfg-' + version,
        deployed_by='alice@ctl',
        now=T0,
        kind=kind,
    )
    if status != 'deploying':
        ledger.finish_release(data, release_id, status=status, now=T1, reason=None if status == 'active' else 'x')
    return release_id


def empty():
    return {'project': 'auraspeak', 'releases': []}


def build(*steps):
    """A ledger from (version, image_id, status) steps."""
    data = empty()
    for step in steps:
        deploy(data, *step)
    return data


def statuses(data):
    return [(e['id'], e['version'], e['status']) for e in data['releases']]


# -- pure functions ------------------------------------------------------------------


def test_start_release_appends_a_deploying_entry_with_every_field():
    data = empty()
    release_id = ledger.start_release(
        data, version='1.0.0', images=images('sha256:a'), config_hash='sha256:c', deployed_by='alice@ctl', now=T0
    )
    assert release_id == 1
    assert data['releases'] == [
        {
            'id': 1,
            'version': '1.0.0',
            'kind': 'deploy',
            'status': 'deploying',
            'images': {'app': {'ref': 'auraspeak/server:x', 'id': 'sha256:a'}},
            'config_hash': 'sha256:c',
            'started_at': T0,
            'finished_at': None,
            'deployed_by': 'alice@ctl',
            'previous': None,
            'reason': None,
        }
    ]


def test_start_release_ids_and_previous_version():
    data = build(('1.0.0', 'a'), ('1.1.0', 'b', 'failed'))
    release_id = deploy(data, '1.2.0', 'c', status='deploying', kind='rollback')
    entry = data['releases'][-1]
    assert release_id == 3 and entry['id'] == 3
    assert entry['previous'] == '1.0.0'  # the active one, not the failed 1.1.0
    assert entry['kind'] == 'rollback'


def test_start_release_after_dropped_entries_uses_max_id():
    data = {'project': 'p', 'releases': [{'id': 41, 'version': '1', 'status': 'superseded', 'images': {}}]}
    assert deploy(data, '2', 'b', status='deploying') == 42


def test_start_release_rejects_an_unknown_kind():
    with pytest.raises(ValueError, match='kind'):
        deploy(empty(), '1', 'a', kind='hotfix')


def test_supersede_chain():
    data = build(('1.0.0', 'a'), ('1.1.0', 'b'), ('1.2.0', 'c'))
    assert statuses(data) == [(1, '1.0.0', 'superseded'), (2, '1.1.0', 'superseded'), (3, '1.2.0', 'active')]
    assert [e['previous'] for e in data['releases']] == [None, '1.0.0', '1.1.0']
    assert data['releases'][2]['finished_at'] == T1


@pytest.mark.parametrize('status', ['failed', 'interrupted'])
def test_failed_or_interrupted_release_keeps_the_active_one(status):
    data = build(('1.0.0', 'a'))
    release_id = deploy(data, '1.1.0', 'b', status='deploying')
    entry = ledger.finish_release(data, release_id, status=status, now=T1, reason='health gate failed')
    assert entry['status'] == status and entry['reason'] == 'health gate failed' and entry['finished_at'] == T1
    assert ledger.current(data)['version'] == '1.0.0'


@pytest.mark.parametrize(
    'release_id, status, message',
    [
        (9, 'active', 'release 9 is not in the ledger'),
        (1, 'active', "release 1 of auraspeak is 'active', not 'deploying'"),
    ],
)
def test_finish_release_errors(release_id, status, message):
    data = build(('1.0.0', 'a'))
    with pytest.raises(LedgerError, match=re.escape(message)):
        ledger.finish_release(data, release_id, status=status, now=T1)


def test_finish_release_rejects_an_unknown_status():
    data = build(('1.0.0', 'a', 'deploying'))
    with pytest.raises(ValueError, match='status'):
        ledger.finish_release(data, 1, status='superseded', now=T1)


def test_mark_interrupted():
    data = build(('1.0.0', 'a'), ('1.1.0', 'b', 'deploying'), ('1.2.0', 'c', 'deploying'))
    assert ledger.mark_interrupted(data, T1) == [2, 3]
    for entry in data['releases'][1:]:
        assert entry['status'] == 'interrupted'
        assert entry['finished_at'] == T1
        assert entry['reason'] == 'the deploy stopped before it finished (found by a later run)'
    assert ledger.mark_interrupted(data, T1) == []
    assert ledger.current(data)['version'] == '1.0.0'


@pytest.mark.parametrize(
    'steps, current, previous',
    [
        ([], None, None),
        ([('1.0.0', 'a')], '1.0.0', None),
        ([('1.0.0', 'a'), ('1.1.0', 'b')], '1.1.0', '1.0.0'),
        # Redeploying the same version: previous skips the superseded entry of that version.
        ([('1.0.0', 'a'), ('1.1.0', 'b'), ('1.1.0', 'b')], '1.1.0', '1.0.0'),
        # A failed deploy is never a rollback target.
        ([('1.0.0', 'a'), ('1.1.0', 'b'), ('1.2.0', 'c', 'failed')], '1.1.0', '1.0.0'),
        # After a rollback to 1.0.0 the newest other superseded version is 1.1.0.
        ([('1.0.0', 'a'), ('1.1.0', 'b'), ('1.0.0', 'a')], '1.0.0', '1.1.0'),
        ([('1.0.0', 'a', 'failed')], None, None),
        # A rollback from 1.1.0 to 1.0.0: a second rollback does not return to 1.1.0.
        ([('1.0.0', 'a'), ('1.1.0', 'b'), ('1.0.0', 'a', 'active', 'rollback')], '1.0.0', None),
        ([('0.9.0', 'z'), ('1.0.0', 'a'), ('1.1.0', 'b'), ('1.0.0', 'a', 'active', 'rollback')], '1.0.0', '0.9.0'),
        # 1.1.0 deployed again after the rollback (fixed): a rollback may go back to it.
        (
            [('1.0.0', 'a'), ('1.1.0', 'b'), ('1.0.0', 'a', 'active', 'rollback'), ('1.1.0', 'b'), ('1.2.0', 'c')],
            '1.2.0',
            '1.1.0',
        ),
    ],
)
def test_current_and_previous(steps, current, previous):
    data = build(*steps)
    assert (ledger.current(data) or {}).get('version') == current
    assert (ledger.previous(data) or {}).get('version') == previous


@pytest.mark.parametrize('limit, ids', [(None, [4, 3, 2, 1]), (2, [4, 3]), (0, []), (10, [4, 3, 2, 1])])
def test_history_newest_first(limit, ids):
    data = build(('1', 'a'), ('2', 'b', 'failed'), ('3', 'c'), ('4', 'd', 'deploying'))
    assert [e['id'] for e in ledger.history(data, limit)] == ids


@pytest.mark.parametrize(
    'version, found_id',
    [('1.0.0', 3), ('1.1.0', 2), ('1.2.0', None), ('9.9.9', None)],
)
def test_find_newest_served_entry(version, found_id):
    data = build(('1.0.0', 'a'), ('1.1.0', 'b'), ('1.0.0', 'a2'), ('1.2.0', 'c', 'failed'))
    assert (ledger.find(data, version) or {}).get('id') == found_id


@pytest.mark.parametrize(
    'steps, keep, retained',
    [
        ([], 3, set()),
        ([('1', 'a'), ('2', 'b'), ('3', 'c'), ('4', 'd')], 2, {'d', 'c'}),
        ([('1', 'a'), ('2', 'b'), ('3', 'c'), ('4', 'd')], 0, {'d'}),  # the active one always
        # Duplicate versions count once: 3, 2, 1 are the newest three distinct versions.
        ([('1', 'a'), ('2', 'b'), ('2', 'b'), ('3', 'c'), ('3', 'c')], 3, {'a', 'b', 'c'}),
        # A version rebuilt under the same tag keeps both of its ids while retained.
        ([('1', 'a'), ('2', 'b'), ('1', 'a2')], 2, {'a', 'a2', 'b'}),
        # After a rollback the active (old) version counts first.
        ([('1', 'a'), ('2', 'b'), ('3', 'c'), ('1', 'a')], 2, {'a', 'c'}),
        # Failed and deploying entries are never counted as versions.
        ([('1', 'a'), ('2', 'b', 'failed'), ('3', 'c', 'deploying')], 2, {'a'}),
    ],
)
def test_retained_image_ids(steps, keep, retained):
    assert ledger.retained_image_ids(build(*steps), keep) == retained


def test_retained_image_ids_cover_every_service():
    data = empty()
    deploy(data, '1', 'a', worker=('auraspeak/worker:1', 'w1'))
    deploy(data, '2', 'b', worker=('auraspeak/worker:1', 'w1'))
    assert ledger.retained_image_ids(data, 1) == {'b', 'w1'}


@pytest.mark.parametrize(
    'steps, keep, prunable',
    [
        ([('1', 'a'), ('2', 'b'), ('3', 'c')], 2, ['a']),
        ([('1', 'a'), ('2', 'b'), ('3', 'c')], 3, []),
        # Failed and interrupted releases' images are pruned, oldest first, once per id.
        ([('1', 'a'), ('2', 'f', 'failed'), ('2', 'f', 'interrupted'), ('2', 'b')], 1, ['a', 'f']),
        # An id shared with a retained release is never pruned.
        ([('1', 'b', 'failed'), ('2', 'b')], 1, []),
        # Never the current release, even after a rollback past keep.
        ([('1', 'a'), ('2', 'b'), ('3', 'c'), ('1', 'a')], 1, ['b', 'c']),
        # Never an image a running deploy uses.
        ([('1', 'a'), ('2', 'b', 'failed'), ('3', 'c'), ('2', 'b', 'deploying')], 1, ['a']),
    ],
)
def test_prunable_images(steps, keep, prunable):
    result = ledger.prunable_images(build(*steps), keep)
    assert [image['id'] for image in result] == prunable
    for image in result:
        assert set(image) == {'ref', 'id'} and image['ref'].startswith('auraspeak/server:')


def test_prunable_images_dedupe_ids_across_services():
    data = empty()
    deploy(data, '1', 'a', worker=('auraspeak/server:1', 'a'))
    deploy(data, '2', 'b')
    assert ledger.prunable_images(data, 1) == [{'ref': 'auraspeak/server:1', 'id': 'a'}]


# -- the 100-entry cap -------------------------------------------------------------


def test_cap_drops_the_oldest_unretained_entries():
    data = build(*[(str(n), 'img%d' % n) for n in range(1, 106)])
    dropped = ledger.cap_entries(data, keep=3)
    assert dropped == [1, 2, 3, 4, 5]
    assert len(data['releases']) == 100
    assert data['releases'][0]['id'] == 6


def test_cap_keeps_retained_and_active_entries_first():
    # The active release is the oldest version (rolled back to); retained 1 and 2 are old entries.
    steps = [('1', 'a'), ('2', 'b')] + [('x%d' % n, 'f%d' % n, 'failed') for n in range(100)] + [('1', 'a')]
    data = build(*steps)
    assert len(data['releases']) == 103
    dropped = ledger.cap_entries(data, keep=2)
    assert dropped == [3, 4, 5]  # the oldest failed ones, not the retained 1 and 2
    assert len(data['releases']) == 100
    assert ledger.find(data, '2')['id'] == 2
    assert ledger.current(data)['id'] == 103


def test_cap_holds_even_when_every_entry_shares_retained_images():
    # 110 failed redeploys of the image the active release runs: all hold a retained id.
    data = build(('1', 'a'), *[('1', 'a', 'failed')] * 109)
    dropped = ledger.cap_entries(data, keep=3)
    assert len(dropped) == 10 and len(data['releases']) == 100
    assert ledger.current(data)['id'] == 1
    assert 1 not in dropped


def test_cap_never_drops_deploying_entries():
    data = build(*[(str(n), 'i%d' % n, 'deploying') for n in range(101)])
    assert ledger.cap_entries(data) == []
    assert len(data['releases']) == 101


def test_cap_below_the_limit_changes_nothing():
    data = build(('1', 'a'), ('2', 'b'))
    assert ledger.cap_entries(data) == []
    assert len(data['releases']) == 2


# -- the file ------------------------------------------------------------------------


def ledger_at(tmp_path, project='auraspeak'):
    return ReleaseLedger(str(tmp_path / 'state' / project / 'releases.json'))


def test_missing_file_reads_as_an_empty_ledger(tmp_path):
    assert ledger_at(tmp_path).read() == {'project': 'auraspeak', 'releases': []}
    assert not (tmp_path / 'state').exists()


@pytest.mark.parametrize(
    'content, message',
    [
        ('{"project": "auraspeak", "releases": [', 'is not valid JSON'),
        ('', 'is not valid JSON'),
        ('[]', 'expected an object with a "releases" list'),
        ('{"releases": [{"version": "1"}]}', 'releases[0] has no integer "id"'),
        ('{"releases": [{"id": 1, "status": "done"}]}', "releases[0] has the unknown status 'done'"),
    ],
)
def test_corrupt_file_raises_naming_the_path(tmp_path, content, message):
    book = ledger_at(tmp_path)
    os.makedirs(book.directory)
    with open(book.path, 'w', encoding='utf-8') as handle:
        handle.write(content)
    with pytest.raises(LedgerError) as error:
        book.read()
    assert book.path in str(error.value) and message in str(error.value)
    assert 'move it aside' in str(error.value)
    with pytest.raises(LedgerError), book.transaction():
        pytest.fail('a corrupt ledger must not be handed out')
    with open(book.path, encoding='utf-8') as handle:
        assert handle.read() == content  # never replaced


def test_unreadable_file_raises(tmp_path):
    book = ledger_at(tmp_path)
    os.makedirs(book.path)  # a directory where the file should be
    with pytest.raises(LedgerError, match=r'cannot read the release ledger .*releases\.json'):
        book.read()


def test_transaction_creates_directory_and_file_with_modes(tmp_path):
    book = ledger_at(tmp_path)
    old_umask = os.umask(0o077)
    try:
        with book.transaction() as data:
            deploy(data, '1.0.0', 'a')
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(os.stat(book.directory).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(tmp_path / 'state').st_mode) == 0o755
    assert stat.S_IMODE(os.stat(book.path).st_mode) == 0o644
    assert stat.S_IMODE(os.stat(book.lock_path).st_mode) == 0o600
    assert sorted(os.listdir(book.directory)) == ['releases.json', 'releases.json.lock']  # no temp file left
    with open(book.path, encoding='utf-8') as handle:
        written = json.load(handle)
    assert written['project'] == 'auraspeak'
    assert ledger.current(written)['version'] == '1.0.0'
    assert book.read() == written


def test_transaction_rolls_back_on_exception(tmp_path):
    book = ledger_at(tmp_path)
    with book.transaction() as data:
        deploy(data, '1.0.0', 'a')
    with open(book.path, 'rb') as handle:
        before = handle.read()
    with pytest.raises(RuntimeError, match='health gate'), book.transaction() as data:
        deploy(data, '1.1.0', 'b')
        raise RuntimeError('health gate')
    with open(book.path, 'rb') as handle:
        assert handle.read() == before
    assert sorted(os.listdir(book.directory)) == ['releases.json', 'releases.json.lock']


def test_transaction_applies_the_cap(tmp_path):
    book = ReleaseLedger(str(tmp_path / 'p' / 'releases.json'), keep=2, max_entries=5)
    for n in range(8):
        with book.transaction() as data:
            deploy(data, str(n), 'i%d' % n)
    assert [e['id'] for e in book.read()['releases']] == [4, 5, 6, 7, 8]


def _append(path, count, barrier):
    barrier.wait()
    book = ReleaseLedger(path)
    for _entry in range(count):
        with book.transaction() as data:
            ledger.start_release(data, version=str(os.getpid()), images={}, config_hash='h', deployed_by='p', now=T0)


def test_concurrent_transactions_lose_no_entry(tmp_path):
    path = str(tmp_path / 'auraspeak' / 'releases.json')
    context = multiprocessing.get_context('fork')
    barrier = context.Barrier(2)
    workers = [context.Process(target=_append, args=(path, 50, barrier)) for _worker in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    releases = ReleaseLedger(path).read()['releases']
    assert len(releases) == 100
    assert [e['id'] for e in releases] == list(range(1, 101))
    assert {e['version'] for e in releases} == {str(w.pid) for w in workers}


@pytest.mark.parametrize('project', ['a/b', '..', '', '-x', 'x' * 129])
def test_bad_project_names(project):
    with pytest.raises(ValueError, match='is not a valid project name'):
        ledger.project_file('/var/lib/auraspeak', project, 'releases.json')


def test_release_info_results(tmp_path):
    failed, result = release_info({'project': 'auraspeak', 'state_dir': str(tmp_path), 'limit': 20})
    assert not failed and result['exists'] is False and result['history'] == [] and result['current'] is None
    book = ReleaseLedger(str(tmp_path / 'auraspeak' / 'releases.json'))
    with book.transaction() as data:
        deploy(data, '1', 'a')
        deploy(data, '2', 'b')
    failed, result = release_info({'path': book.path, 'limit': 1})
    assert not failed and result['exists'] is True and result['changed'] is False
    assert result['current']['version'] == '2' and result['previous']['version'] == '1'
    assert [e['id'] for e in result['history']] == [2]
    failed, result = release_info({'path': book.path, 'limit': -1})
    assert failed and 'limit -1 is negative' in result['msg']
