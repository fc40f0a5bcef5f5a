import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._common.image_ref import (
    InvalidReference,
    normalize,
    split_reference,
)


@pytest.mark.parametrize(
    'ref, expected',
    [
        ('app', ('app', 'latest')),
        ('app:1.4.0', ('app', '1.4.0')),
        ('auraspeak/server:v1_2-rc.1', ('auraspeak/server', 'v1_2-rc.1')),
        ('registry.example.com:5000/team/app:2', ('registry.example.com:5000/team/app', '2')),
        ('localhost/app', ('localhost/app', 'latest')),
        ('localhost:5000/app:x', ('localhost:5000/app', 'x')),
        ('a__b/c--d:t', ('a__b/c--d', 't')),
    ],
)
def test_valid_references(ref, expected):
    assert split_reference(ref) == expected


@pytest.mark.parametrize(
    'ref, fragment',
    [
        ('', 'non-empty'),
        ('App:1', "name part 'App'"),
        ('app:v1 beta', "invalid tag 'v1 beta'"),
        ('app:.hidden', "invalid tag '.hidden'"),
        ('app:' + 'x' * 129, 'at most 128'),
        ('app@sha256:' + 'a' * 64, 'digest'),
        ('my_registry.com/app', "'my_registry.com' is not a valid registry host"),
        ('team//app', "name part ''"),
        ('app-:1', "name part 'app-'"),
        ('a' * 256, 'longer than 255'),
    ],
)
def test_invalid_references_say_why(ref, fragment):
    with pytest.raises(InvalidReference) as caught:
        split_reference(ref)
    assert fragment in str(caught.value)


def test_normalize_adds_latest():
    assert normalize('app') == 'app:latest'
    assert normalize('app:1') == 'app:1'
