"""Image retention runs after the release is live: what goes wrong there warns, it never fails the deploy."""

from ansible_collections.auraspeak.ops.plugins.module_utils._common.engine import EngineError
from ansible_collections.auraspeak.ops.plugins.module_utils._deploy.retention import prune_images

DATA = {
    'releases': [
        {'id': 1, 'version': '1.0.0', 'status': 'superseded', 'images': {'app': {'ref': 'app:1', 'id': 'sha256:1'}}},
        {'id': 2, 'version': '2.0.0', 'status': 'superseded', 'images': {'app': {'ref': 'app:2', 'id': 'sha256:2'}}},
        {'id': 3, 'version': '3.0.0', 'status': 'active', 'images': {'app': {'ref': 'app:3', 'id': 'sha256:3'}}},
    ]
}


class Engine:
    def __init__(self, images, down_after=None, refusals=None):
        self.images = images
        self.down_after = down_after
        self.refusals = refusals or {}
        self.inspected = 0
        self.removed = []

    def inspect_image(self, ref):
        if self.down_after is not None and self.inspected >= self.down_after:
            raise EngineError('docker image inspect %s failed: connection refused' % ref)
        self.inspected += 1
        return self.images.get(ref)

    def remove_image(self, ref):
        if ref in self.refusals:
            return self.refusals[ref]
        self.removed.append(ref)
        return None


def test_only_images_whose_tag_still_names_the_recorded_id_go():
    engine = Engine({'app:1': {'Id': 'sha256:1'}, 'app:2': {'Id': 'sha256:rebuilt'}})
    warnings = []
    assert prune_images(engine, DATA, 1, warnings.append) == ['app:1']
    assert engine.removed == ['app:1'] and warnings == []


def test_an_image_in_use_is_kept_quietly_and_another_refusal_warns():
    images = {'app:1': {'Id': 'sha256:1'}, 'app:2': {'Id': 'sha256:2'}}
    refusals = {'app:1': 'conflict: unable to remove repository reference', 'app:2': 'no space left on device'}
    warnings = []
    assert prune_images(Engine(images, refusals=refusals), DATA, 1, warnings.append) == []
    assert warnings == ['could not remove app:2 of an old release: no space left on device']


def test_an_engine_that_fails_midway_is_a_warning_and_keeps_what_was_removed():
    engine = Engine({'app:1': {'Id': 'sha256:1'}, 'app:2': {'Id': 'sha256:2'}}, down_after=1)
    warnings = []
    assert prune_images(engine, DATA, 1, warnings.append) == ['app:1']
    assert len(warnings) == 1 and 'connection refused' in warnings[0] and 'next deploy' in warnings[0]
