"""FrameReader: frames come out whole and in order however the stream is cut."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from fnflow.framing import FrameReader
from fnflow.functions._protocol import frame

Frame = tuple[int, bytes, bytes]
frames = st.lists(st.tuples(st.integers(0, 255), st.binary(max_size=40), st.binary(max_size=300)), max_size=6)


def read(chunks: list[bytes]) -> list[Frame]:
    got: list[Frame] = []
    reader = FrameReader(lambda kind, meta, body: got.append((kind, meta, body)), lambda: None)
    for chunk in chunks:
        reader.data_received(chunk)
    return got


def stream(sent: list[Frame]) -> bytes:
    return b"".join(b"".join(frame(kind, meta, body)) for kind, meta, body in sent)


@given(frames, st.lists(st.integers(0, 2000), max_size=8))
def test_any_cut_gives_the_frames_sent(sent: list[Frame], cuts: list[int]) -> None:
    data = stream(sent)
    points = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    chunks = [data[a:b] for a, b in itertools.pairwise(points) if b > a]
    assert read(chunks) == sent


@given(frames)
def test_each_frame_alone_in_its_chunk(sent: list[Frame]) -> None:
    assert read([stream([f]) for f in sent]) == sent


def test_a_whole_frame_after_a_partial_one_waits_for_its_turn() -> None:
    first, second = (3, b'{"a":1}', b"body"), (3, b"{}", b"")
    data = stream([first])
    assert read([data[:5], data[5:] + stream([second])]) == [first, second]
    assert read([data[:5], data[5:], stream([second])]) == [first, second]


def test_a_cut_right_after_the_header() -> None:
    inner = stream([(5, b"m", b"b")])  # a payload that looks like a whole frame of its own
    sent = [(3, inner, b""), (3, b"{}", b"x")]
    data = stream(sent[:1])
    assert read([data[:9], data[9:], stream(sent[1:])]) == sent


def test_a_large_body_in_two_buffers() -> None:
    sent = [(1, b"{}", bytes(range(256)) * 1024)]  # 256 KiB: frame() does not join it to the head
    assert len(frame(*sent[0])) == 2
    data = stream(sent)
    assert read([data[i : i + 65536] for i in range(0, len(data), 65536)]) == sent
