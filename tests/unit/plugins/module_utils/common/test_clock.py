import re

from ansible_collections.auraspeak.ops.plugins.module_utils._common import clock


def test_utc_now_format():
    assert re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$', clock.utc_now())
    assert clock.parse_time('1970-01-01T00:01:00Z') == 60
    assert clock.parse_time('yesterday') is None
