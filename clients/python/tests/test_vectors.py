"""Checks the codec against clients/testdata/vectors.json (generated from docs/protocol.md alone)."""
import json
import os
import struct
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from purser_client import protocol  # noqa: E402
from purser_client.protocol import ProtocolError, decode, encode  # noqa: E402

VECTORS_PATH = os.path.join(HERE, "..", "..", "testdata", "vectors.json")
with open(VECTORS_PATH) as handle:
    VECTORS = json.load(handle)["vectors"]

VALID = [v for v in VECTORS if v["valid"]]
INVALID = [v for v in VECTORS if not v["valid"]]


DIRECTION_ROLES = {"to_server": "server", "to_client": "client"}


def role_for(vector):
    """Who decodes a vector: its `direction` (docs/protocol.md, "Test vectors").

    The type byte alone cannot say: `reply_type_as_request` is a pong (0x84) sent *to the server*,
    which the server refuses as `unknown_type`, while a client would read it as a pong. Vectors
    written before `direction` existed fall back to: requests and header-level errors go to the
    server, `*_in_reply` and valid replies to a client.
    """
    if "direction" in vector:
        return DIRECTION_ROLES[vector["direction"]]
    if vector["valid"]:
        return "server" if vector["message"]["type"] in protocol.REQUEST_TYPES else "client"
    return "client" if vector["name"].endswith("_in_reply") else "server"


def strip_unknown_fields(frame_hex, type_name):
    """The canonical form of a frame: unknown tags dropped, known fields in ascending tag order."""
    data = bytes.fromhex(frame_hex)
    header = data[4:4 + protocol.HEADER_BYTES]
    known = protocol.FIELDS_BY_TAG[type_name]
    fields = [(tag, value) for tag, value in protocol.split_fields(data[4 + protocol.HEADER_BYTES:]) if tag in known]
    fields.sort(key=lambda item: item[0])  # stable: repeated fields keep their order
    payload = header + b"".join(protocol.encode_field(tag, value) for tag, value in fields)
    return (struct.pack(">I", len(payload)) + payload).hex()


def test_vector_directions_match_types():
    for vector in VALID:
        if "direction" in vector:
            expected = "server" if vector["message"]["type"] in protocol.REQUEST_TYPES else "client"
            assert DIRECTION_ROLES[vector["direction"]] == expected, vector["name"]


def test_vector_file_covers_every_message_type():
    names = {v["message"]["type"] for v in VALID}
    assert names >= set(protocol.TYPES) - {"reload_reply", "status_reply"}
    assert len(INVALID) >= 10


@pytest.mark.parametrize("vector", VALID, ids=[v["name"] for v in VALID])
def test_valid_vector_encodes_byte_for_byte(vector):
    message = vector["message"]
    encoded = encode(message).hex()
    known_only = strip_unknown_fields(vector["hex"], message["type"])
    if known_only == vector["hex"]:
        assert encoded == vector["hex"]
    else:
        # The vector carries an unknown tag the encoder cannot know about: the encoding of the
        # decoded message is the vector minus that field.
        assert encoded == known_only
        assert encoded != vector["hex"]


@pytest.mark.parametrize("vector", VALID, ids=[v["name"] for v in VALID])
def test_valid_vector_decodes_to_its_message(vector):
    frame = bytes.fromhex(vector["hex"])
    role = role_for(vector)
    assert decode(frame, role=role).to_dict() == vector["message"]
    assert decode(frame).to_dict() == vector["message"]  # role "any"


@pytest.mark.parametrize("vector", VALID, ids=[v["name"] for v in VALID])
def test_valid_vector_round_trips(vector):
    frame = bytes.fromhex(vector["hex"])
    assert decode(encode(decode(frame))).to_dict() == vector["message"]


@pytest.mark.parametrize("vector", INVALID, ids=[v["name"] for v in INVALID])
def test_invalid_vector_is_refused_with_its_code(vector):
    frame = bytes.fromhex(vector["hex"])
    with pytest.raises(ProtocolError) as caught:
        decode(frame, role=role_for(vector), frame_bytes_max=protocol.FRAME_BYTES_MAX_DEFAULT)
    assert caught.value.code == vector["error"], caught.value.message


def test_frame_too_large_is_refused_from_the_prefix_alone():
    vector = next(v for v in INVALID if v["name"] == "frame_too_large")
    prefix = bytes.fromhex(vector["hex"])
    assert len(prefix) == 4
    with pytest.raises(ProtocolError) as caught:
        protocol.check_prefix(prefix, 65536)
    assert caught.value.code == "frame_too_large"
    buffer = protocol.FrameBuffer(65536)
    buffer.feed(prefix)
    with pytest.raises(ProtocolError) as caught:
        buffer.next_payload()
    assert caught.value.code == "frame_too_large"
    # 65,536 itself is allowed: the buffer just waits for the payload.
    buffer = protocol.FrameBuffer(65536)
    buffer.feed(struct.pack(">I", 65536))
    assert buffer.next_payload() is None


def test_protocol_doc_example_authorize():
    expected = bytes.fromhex(
        "00000033"
        "01010000000000000007"
        "00010007706b5f64656d6f"
        "000200076770742d352e34"
        "0004000800000000000005dc"
        "00070003722d31"
    )
    frame = encode("authorize", 7, {"key": "pk_demo", "model": "gpt-5.4", "estimate_micros": 1500, "request_id": "r-1"})
    assert frame == expected
    assert encode("ping", 1) == bytes.fromhex("0000000a01040000000000000001")


@pytest.mark.parametrize(
    "payload, code",
    [
        (b"", "malformed_frame"),
        (struct.pack(">BBQ", 1, 0x01, 1) + b"\x00\x01\x00", "malformed_frame"),  # 3 bytes of a field header
        (struct.pack(">BBQ", 1, 0x02, 1) + protocol.encode_field(1, b"r") + protocol.encode_field(3, struct.pack(">q", 1)),
         "malformed_field"),  # settle: input_tokens without output_tokens
        (struct.pack(">BBQ", 1, 0x02, 1) + protocol.encode_field(1, b"r"), "malformed_field"),  # settle without cost
        (struct.pack(">BBQ", 1, 0x02, 1) + protocol.encode_field(1, b"r") + protocol.encode_field(2, struct.pack(">q", 1))
         + protocol.encode_field(3, struct.pack(">q", 1)) + protocol.encode_field(4, struct.pack(">q", 1)),
         "malformed_field"),  # settle with both cost forms
        (struct.pack(">BBQ", 1, 0x01, 1) + protocol.encode_field(1, b"k") + protocol.encode_field(2, b"m")
         + protocol.encode_field(4, struct.pack(">q", 1)), "malformed_field"),  # authorize without request_id
        (struct.pack(">BBQ", 1, 0x11, 1) + protocol.encode_field(1, b"t") + protocol.encode_field(4, b"r"),
         "malformed_field"),  # credit without micros
        (struct.pack(">BBQ", 1, 0x03, 1), "malformed_field"),  # release without reservation
        (struct.pack(">BBQ", 1, 0x01, 1) + protocol.encode_field(1, b"k") + protocol.encode_field(2, b"m")
         + protocol.encode_field(4, struct.pack(">q", 1)) + protocol.encode_field(7, b"r" * 129),
         "malformed_field"),  # request_id above 128 bytes
        (struct.pack(">BBQ", 1, 0x01, 1) + protocol.encode_field(1, b"k" * 1025) + protocol.encode_field(2, b"m")
         + protocol.encode_field(4, struct.pack(">q", 1)) + protocol.encode_field(7, b"r"),
         "malformed_field"),  # key above 1,024 bytes
        (struct.pack(">BBQ", 0, 0x04, 1), "unsupported_version"),
        (struct.pack(">BBQ", 1, 0x7F, 1), "unknown_type"),  # an error frame sent as a request
    ],
)
def test_more_requests_the_server_refuses(payload, code):
    with pytest.raises(ProtocolError) as caught:
        protocol.decode_payload(payload, role="server")
    assert caught.value.code == code


def test_client_refuses_request_types_and_bad_bools():
    with pytest.raises(ProtocolError) as caught:
        protocol.decode_payload(struct.pack(">BBQ", 1, 0x04, 1), role="client")
    assert caught.value.code == "unknown_type"
    payload = struct.pack(">BBQ", 1, 0x81, 1) + protocol.encode_field(1, b"\x01\x00")
    with pytest.raises(ProtocolError) as caught:
        protocol.decode_payload(payload, role="client")
    assert caught.value.code == "malformed_field"


def test_repeated_fields_keep_order_and_unknown_tags_are_skipped():
    payload = (struct.pack(">BBQ", 1, 0x81, 5) + protocol.encode_field(1, b"\x01") + protocol.encode_field(7, b"b")
               + protocol.encode_field(500, b"\xff\xff") + protocol.encode_field(7, b"a"))
    message = protocol.decode_payload(payload, role="client")
    assert message.fields == {"allowed": True, "tag": ["b", "a"]}
    assert message.correlation_id == 5


def test_trailing_bytes_and_truncation():
    frame = encode("ping", 1)
    with pytest.raises(ProtocolError) as caught:
        decode(frame + b"\x00")
    assert caught.value.code == "malformed_frame"
    with pytest.raises(ProtocolError) as caught:
        decode(frame[:-1])
    assert caught.value.code == "malformed_frame"
    with pytest.raises(ProtocolError) as caught:
        decode(frame[:3])
    assert caught.value.code == "malformed_frame"
    frames = list(protocol.iter_frames(frame + encode("status", 2)))
    assert [m.type for m in frames] == ["ping", "status"]


def test_encoder_refuses_values_it_cannot_write():
    with pytest.raises(ValueError):
        encode("authorize", 1, {"nope": 1})
    with pytest.raises(ValueError):
        encode("authorize", 1, {"estimate_micros": 1 << 63})
    with pytest.raises(TypeError):
        encode("authorize", 1, {"estimate_micros": True})
    with pytest.raises(TypeError):
        encode("authorize", 1, {"tag": "single"})
    with pytest.raises(ValueError):
        encode("ping", -1)
