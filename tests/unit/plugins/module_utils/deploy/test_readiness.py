import http.server
import threading
from types import SimpleNamespace

import pytest

from ansible_collections.auraspeak.ops.plugins.module_utils._deploy import readiness


@pytest.fixture
def server():
    """A real HTTP server on loopback whose /readyz answers what the test sets."""
    answers = {'status': 503, 'body': b'{"status": "unavailable", "checks": {"redis": "failed: WRONGPASS"}}'}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            status = answers['status'] if self.path == '/readyz' else 404
            self.send_response(status)
            self.end_headers()
            self.wfile.write(answers['body'])

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield SimpleNamespace(port=httpd.server_address[1], answers=answers)
    httpd.shutdown()
    httpd.server_close()


def container(name='p-app-3', addresses=('127.0.0.1',)):
    return SimpleNamespace(name=name, addresses=list(addresses))


def test_probe_reads_status_and_body(server):
    assert readiness.probe('127.0.0.1', server.port, '/readyz') == (
        503,
        '{"status": "unavailable", "checks": {"redis": "failed: WRONGPASS"}}',
    )
    server.answers.update(status=200, body=b'ok')
    assert readiness.probe('127.0.0.1', server.port, '/readyz') == (200, 'ok')


def test_probe_of_a_closed_port_says_why(server):
    status, why = readiness.probe('127.0.0.1', 1, '/readyz')
    assert status is None and 'refused' in why.lower()


def test_any_address_that_answers_200_makes_the_container_ready(server):
    server.answers.update(status=200, body=b'ok')
    unreachable_first = container(addresses=('127.0.0.2', '127.0.0.1'))
    assert readiness.answer_of(unreachable_first, server.port, '/readyz')[0] == 200
    assert readiness.answer_of(container(addresses=()), server.port, '/readyz') == (None, 'no address on any network')


def test_wait_ends_when_ready(server):
    ticks = []

    def sleep(_seconds):
        ticks.append(1)
        server.answers.update(status=200, body=b'ok')  # ready at the second look

    assert readiness.wait_until_ready([container()], server.port, '/readyz', 30, sleep=sleep) == {}
    assert len(ticks) == 1


def test_wait_gives_up_at_the_deadline_with_each_answer(server):
    clock = iter([0, 0, 10, 31]).__next__
    answers = readiness.wait_until_ready(
        [container('p-app-3'), container('p-app-4', addresses=())],
        server.port,
        '/readyz',
        30,
        clock=clock,
        sleep=lambda _s: None,
    )
    assert answers == {
        'p-app-3': 'answered 503: {"status": "unavailable", "checks": {"redis": "failed: WRONGPASS"}}',
        'p-app-4': 'no answer: no address on any network',
    }
