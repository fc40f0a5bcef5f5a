"""The engine client's pure parts: a followed log cut into whole lines, whatever the engine's chunks."""

from ansible_collections.auraspeak.ops.plugins.module_utils._common.engine import LogLines


class Stream:
    def __init__(self, chunks):
        self.chunks = chunks
        self.closed = False

    def __iter__(self):
        return iter(self.chunks)

    def close(self):
        self.closed = True


def test_lines_split_across_chunks_come_out_whole():
    chunks = [b'2026-12-06T01:00:00Z {"st', b'atus":200}\n2026-12-06T01:00:01Z a\n2026', b'-12-06T01:00:02Z b\n']
    stream = Stream(chunks)
    assert list(LogLines(stream)) == [
        '2026-12-06T01:00:00Z {"status":200}\n',
        '2026-12-06T01:00:01Z a\n',
        '2026-12-06T01:00:02Z b\n',
    ]


def test_a_last_line_without_newline_is_kept_and_close_reaches_the_stream():
    stream = Stream([b'one\ntw', b'o'])
    lines = LogLines(stream)
    assert list(lines) == ['one\n', 'two']
    lines.close()
    assert stream.closed


def test_bytes_that_are_not_utf8_do_not_stop_the_reading():
    assert list(LogLines(Stream([b'caf\xe9\n']))) == ['caf\ufffd\n']
