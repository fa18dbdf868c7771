"""The frame reader and writer without sockets, against websockets' own framing as the reference."""

import itertools
from collections.abc import Generator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from ably_local.frames import (
    BINARY,
    CLOSE,
    MESSAGE_TOO_BIG,
    PING,
    PROTOCOL_ERROR,
    TEXT,
    FrameError,
    FrameReader,
    close_frame,
    frame,
)

LIMIT = 70_000
FRAGMENTS = 8


def client_frame(opcode: Opcode, data: bytes, fin: bool = True) -> bytes:
    """A frame as a client sends it (masked), made by websockets."""
    return Frame(opcode, data, fin).serialize(mask=True)


def read(*frames: bytes, limit: int = LIMIT) -> list[tuple[int, bytes]]:
    return FrameReader(limit, FRAGMENTS).feed(b"".join(frames))


def refused(*frames: bytes, limit: int = LIMIT) -> FrameError:
    with pytest.raises(FrameError) as caught:
        read(*frames, limit=limit)
    return caught.value


# A client's traffic: messages of every length class, one fragmented, with control frames between.
STREAM = [
    client_frame(Opcode.TEXT, b'{"action":0}'),
    client_frame(Opcode.BINARY, b"\x81\xa6action\x00" * 20),  # 16-bit length
    client_frame(Opcode.TEXT, b"a" * 66_000),  # 64-bit length
    client_frame(Opcode.TEXT, b"part one, ", fin=False),
    client_frame(Opcode.PING, b"are you there"),
    client_frame(Opcode.CONT, b"part two, ", fin=False),
    client_frame(Opcode.CONT, b"end"),
    client_frame(Opcode.CLOSE, (1000).to_bytes(2, "big")),
]
EXPECTED = [
    (TEXT, b'{"action":0}'),
    (BINARY, b"\x81\xa6action\x00" * 20),
    (TEXT, b"a" * 66_000),
    (PING, b"are you there"),
    (TEXT, b"part one, part two, end"),
    (CLOSE, (1000).to_bytes(2, "big")),
]


def test_a_stream_in_one_read() -> None:
    assert read(*STREAM) == EXPECTED


@given(st.lists(st.integers(min_value=0, max_value=sum(map(len, STREAM))), max_size=40))
def test_a_stream_cut_anywhere_reads_the_same(cuts: list[int]) -> None:
    data = b"".join(STREAM)
    reader = FrameReader(LIMIT, FRAGMENTS)
    received: list[tuple[int, bytes]] = []
    bounds = [0, *sorted(cuts), len(data)]
    for start, end in itertools.pairwise(bounds):
        received += reader.feed(data[start:end])
    assert received == EXPECTED


def test_one_byte_at_a_time_reads_the_same() -> None:
    reader = FrameReader(LIMIT, FRAGMENTS)
    data = b"".join(STREAM[:2] + STREAM[3:])
    received = [message for byte in data for message in reader.feed(bytes([byte]))]
    assert received == EXPECTED[:2] + EXPECTED[3:]


@pytest.mark.parametrize(
    ("frames", "why"),
    [
        ([Frame(Opcode.TEXT, b"hi").serialize(mask=False)], "must be masked"),
        ([bytes([0xC1, 0x80, 0, 0, 0, 0])], "reserved bits"),  # TEXT with RSV1
        ([bytes([0x89, 0xFE, 0, 126, 0, 0, 0, 0]) + b"p" * 126], "control frame"),  # PING of 126 bytes
        ([bytes([0x09, 0x81, 0, 0, 0, 0]) + b"p"], "control frame"),  # PING without FIN
        ([client_frame(Opcode.CONT, b"orphan")], "no message to continue"),
        ([client_frame(Opcode.TEXT, b"a", fin=False), client_frame(Opcode.TEXT, b"b")], "new message"),
        ([bytes([0x83, 0x80, 0, 0, 0, 0])], "unknown opcode 3"),
        ([bytes([0x8B, 0x80, 0, 0, 0, 0])], "unknown opcode 11"),
    ],
)
def test_framing_errors_close_with_1002(frames: list[bytes], why: str) -> None:
    error = refused(*frames)
    assert error.code == PROTOCOL_ERROR
    assert why in error.reason


def test_messages_before_a_framing_error_are_kept() -> None:
    error = refused(client_frame(Opcode.TEXT, b"sent in good order"), client_frame(Opcode.CONT, b"orphan"))
    assert error.code == PROTOCOL_ERROR
    assert error.received == [(TEXT, b"sent in good order")]


def test_an_oversized_message_is_refused_from_its_header() -> None:
    header_only = client_frame(Opcode.TEXT, b"x" * (LIMIT + 1))[:14]  # the payload never arrives
    assert refused(header_only).code == MESSAGE_TOO_BIG


def test_fragments_count_toward_the_message_limit() -> None:
    half = b"x" * (LIMIT // 2 + 1)
    error = refused(client_frame(Opcode.TEXT, half, fin=False), client_frame(Opcode.CONT, half))
    assert error.code == MESSAGE_TOO_BIG


def test_a_message_at_the_limit_is_read() -> None:
    assert read(client_frame(Opcode.BINARY, b"y" * LIMIT)) == [(BINARY, b"y" * LIMIT)]


def fragmented(count: int, part: bytes) -> list[bytes]:
    """One TEXT message in `count` frames (the first and count - 1 continuations), each carrying `part`."""
    continuations = [client_frame(Opcode.CONT, part, fin=index == count - 2) for index in range(count - 1)]
    return [client_frame(Opcode.TEXT, part, fin=count == 1), *continuations]


@pytest.mark.parametrize("part", [b"", b"z"], ids=["empty", "one-byte"])
def test_the_fragments_of_a_message_are_bounded_in_number(part: bytes) -> None:
    assert read(*fragmented(FRAGMENTS, part)) == [(TEXT, part * FRAGMENTS)]
    one_too_many = fragmented(FRAGMENTS + 1, part)
    assert refused(*one_too_many).code == MESSAGE_TOO_BIG
    # Refused from the header of the fragment past the bound, before its payload is waited for.
    assert refused(*one_too_many[:-1], one_too_many[-1][:6]).code == MESSAGE_TOO_BIG


def parsed(data: bytes) -> Frame:
    """What a client (websockets, unmasked frames expected) reads from the server's bytes."""
    reader = StreamReader()
    reader.feed_data(data)
    parser: Generator[None, None, Frame] = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        result: Frame = done.value
        return result
    raise AssertionError("the frame was not complete")


@pytest.mark.parametrize("length", [0, 1, 125, 126, 65_535, 65_536, 200_000])
def test_written_frames_read_back_in_websockets(length: int) -> None:
    data = bytes(range(256)) * (length // 256) + bytes(range(length % 256))
    for opcode, expected in ((TEXT, Opcode.TEXT), (BINARY, Opcode.BINARY)):
        back = parsed(frame(opcode, data))
        assert (back.opcode, back.data, back.fin) == (expected, data, True)


def test_close_frame_carries_its_code() -> None:
    back = parsed(close_frame(1009))
    assert back.opcode is Opcode.CLOSE
    assert back.data == (1009).to_bytes(2, "big")
