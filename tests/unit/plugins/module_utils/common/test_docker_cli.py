from ansible_collections.auraspeak.ops.plugins.module_utils._common.docker_cli import tail


def test_tail_keeps_the_last_lines():
    assert tail('a\nb\nc\n', 2) == ['b', 'c']
    assert tail(None) == []
