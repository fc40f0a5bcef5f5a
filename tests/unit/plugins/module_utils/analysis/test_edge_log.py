import json

import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._analysis.edge_log import (
    attempts,
    figures,
    parse_line,
    parse_timestamp,
)


def log_line(stamp, **entry):
    return '%s %s\n' % (stamp, json.dumps(entry))


def test_docker_timestamps_parse_to_epoch_seconds():
    assert parse_timestamp('1970-01-01T00:00:10.250000000Z') == pytest.approx(10.25)
    assert parse_timestamp('1970-01-01T01:00:00+01:00') == pytest.approx(0)
    assert parse_timestamp('not a time') is None


def test_a_request_with_a_retry_is_two_attempts():
    entry = {
        'upstream_addr': '172.18.0.5:3000, 172.18.0.6:3000',
        'upstream_status': '502, 200',
        'upstream_response_time': '0.001, 0.004',
    }
    assert attempts(entry) == [('172.18.0.5:3000', 502, 0.001), ('172.18.0.6:3000', 200, 0.004)]


def test_an_attempt_without_an_answer_counts_as_a_failure():
    entry = {'upstream_addr': '172.18.0.5:3000', 'upstream_status': '-', 'upstream_response_time': '-'}
    assert attempts(entry) == [('172.18.0.5:3000', 502, None)]


def test_internal_redirects_and_unix_sockets_are_handled():
    entry = {
        'upstream_addr': '172.18.0.5:3000 : unix:/run/nginx/no-release.sock',
        'upstream_status': '200 : 503',
        'upstream_response_time': '0.002 : 0.000',
    }
    assert attempts(entry) == [('172.18.0.5:3000', 200, 0.002)]


def test_lines_without_an_upstream_or_json_are_skipped():
    assert parse_line(log_line('2026-12-02T03:00:00.5Z', status=308, upstream_addr='')) is None
    assert parse_line('2026-12-02T03:00:00.5Z 2026/12/02 03:00:00 [warn] 1#1: something\n') is None
    assert parse_line('garbage') is None


def test_figures_per_release_within_the_window():
    lines = [
        log_line(
            '1970-01-01T00:00:01Z', upstream_addr='10.0.0.1:3000', upstream_status='200', upstream_response_time='0.010'
        ),
        log_line(
            '1970-01-01T00:00:02Z', upstream_addr='10.0.0.2:3000', upstream_status='500', upstream_response_time='0.020'
        ),
        log_line(
            '1970-01-01T00:00:03Z', upstream_addr='10.0.0.2:3000', upstream_status='200', upstream_response_time='0.030'
        ),
        log_line(
            '1970-01-01T00:00:09Z', upstream_addr='10.0.0.2:3000', upstream_status='500', upstream_response_time='0.040'
        ),
        log_line(
            '1970-01-01T00:00:03Z', upstream_addr='10.9.9.9:3000', upstream_status='500', upstream_response_time='0.1'
        ),
    ]
    records = [parse_line(line) for line in lines]
    found = figures(records, {'canary': {'10.0.0.2:3000'}, 'baseline': {'10.0.0.1:3000'}}, since=1, until=5)
    assert (found['canary'].requests, found['canary'].errors) == (2, 1)
    assert (found['baseline'].requests, found['baseline'].errors) == (1, 0)
    assert found['canary'].quantile(1.0) == pytest.approx(0.03)
