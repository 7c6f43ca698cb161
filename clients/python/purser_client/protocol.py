"""Purser wire protocol, version 1: frames and messages (docs/protocol.md).

A frame is a 4-byte big-endian payload length followed by the payload:

    version u8 (=1) | type u8 | correlation id u64 BE | TLV fields (tag u16 BE, length u16 BE, value)

Messages are represented as :class:`Message` (``type`` name, ``correlation_id``, ``fields`` dict).
Field values are ``str`` (string), ``int`` (i64) or ``bool``; a repeated field is a ``list``.

Encoding writes fields in ascending tag order (repeated fields in list order), which is the
canonical form the test vectors use. Decoding skips unknown tags and validates exactly as the
server does, raising :class:`ProtocolError` with the protocol's stable error code.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field as dataclass_field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

PROTOCOL_VERSION = 1
HEADER_BYTES = 10
PREFIX_BYTES = 4
FRAME_BYTES_MAX_DEFAULT = 65_536

I64_MIN = -(1 << 63)
I64_MAX = (1 << 63) - 1
U64_MAX = (1 << 64) - 1

# --- message types -------------------------------------------------------------------------------

REQUEST_TYPES: Dict[str, int] = {
    "authorize": 0x01,
    "settle": 0x02,
    "release": 0x03,
    "ping": 0x04,
    "reload": 0x10,
    "credit": 0x11,
    "status": 0x12,
    "usage": 0x13,
}

REPLY_TYPES: Dict[str, int] = {
    "authorize_reply": 0x81,
    "settle_reply": 0x82,
    "release_reply": 0x83,
    "pong": 0x84,
    "reload_reply": 0x90,
    "credit_reply": 0x91,
    "status_reply": 0x92,
    "usage_reply": 0x93,
    "error": 0x7F,
}

TYPES: Dict[str, int] = {**REQUEST_TYPES, **REPLY_TYPES}
TYPE_NAMES: Dict[int, str] = {code: name for name, code in TYPES.items()}

#: Request type name -> the name of its reply type.
REPLY_OF: Dict[str, str] = {
    "authorize": "authorize_reply",
    "settle": "settle_reply",
    "release": "release_reply",
    "ping": "pong",
    "reload": "reload_reply",
    "credit": "credit_reply",
    "status": "status_reply",
    "usage": "usage_reply",
}

#: Messages accepted only on the admin socket.
ADMIN_TYPES = frozenset({"reload", "credit", "status", "usage"})

# --- error codes ---------------------------------------------------------------------------------

MALFORMED_FRAME = "malformed_frame"
FRAME_TOO_LARGE = "frame_too_large"
UNSUPPORTED_VERSION = "unsupported_version"
UNKNOWN_TYPE = "unknown_type"
MALFORMED_FIELD = "malformed_field"
ADMIN_ONLY = "admin_only"
UNKNOWN_RESERVATION = "unknown_reservation"
UNKNOWN_TENANT = "unknown_tenant"
BAD_REQUEST = "bad_request"
POLICY_INVALID = "policy_invalid"
UNAVAILABLE = "unavailable"
SHUTTING_DOWN = "shutting_down"
TOO_MANY_CONNECTIONS = "too_many_connections"

#: Error codes after which the server closes the connection.
CLOSING_ERROR_CODES = frozenset(
    {MALFORMED_FRAME, FRAME_TOO_LARGE, UNSUPPORTED_VERSION, UNKNOWN_TYPE, MALFORMED_FIELD, SHUTTING_DOWN,
     TOO_MANY_CONNECTIONS}
)


class ProtocolError(Exception):
    """Bytes that are not a valid protocol v1 frame. ``code`` is the protocol's stable error code."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message


# --- fields --------------------------------------------------------------------------------------

STRING, I64, BOOL = "string", "i64", "bool"


@dataclass(frozen=True)
class FieldSpec:
    tag: int
    name: str
    kind: str  # "string", "i64" or "bool"
    repeated: bool = False


def _specs(*items: Tuple) -> Tuple[FieldSpec, ...]:
    return tuple(FieldSpec(*item) for item in items)


FIELDS: Dict[str, Tuple[FieldSpec, ...]] = {
    "authorize": _specs(
        (1, "key", STRING), (2, "model", STRING), (3, "tag", STRING, True), (4, "estimate_micros", I64),
        (5, "input_tokens", I64), (6, "max_output_tokens", I64), (7, "request_id", STRING),
    ),
    "authorize_reply": _specs(
        (1, "allowed", BOOL), (2, "reason", STRING), (3, "status", I64), (4, "reservation", STRING),
        (5, "tenant", STRING), (6, "key_id", STRING), (7, "tag", STRING, True), (8, "estimate_micros", I64),
        (9, "expires_at_ms", I64), (10, "remaining_micros", I64), (11, "scope", STRING), (12, "period", STRING),
        (13, "cap_micros", I64), (14, "retry_after_ms", I64), (15, "requests_remaining", I64),
        (16, "tokens_remaining", I64), (17, "detail", STRING), (18, "replayed", BOOL),
    ),
    "settle": _specs(
        (1, "reservation", STRING), (2, "cost_micros", I64), (3, "input_tokens", I64), (4, "output_tokens", I64),
        (5, "status", STRING), (6, "retries", I64),
    ),
    "settle_reply": _specs(
        (1, "reservation", STRING), (2, "cost_micros", I64), (3, "input_tokens", I64), (4, "output_tokens", I64),
        (5, "status", STRING), (6, "retries", I64), (7, "overdraft_micros", I64), (8, "late", BOOL),
        (9, "replayed", BOOL), (10, "settled_at_ms", I64),
    ),
    "release": _specs((1, "reservation", STRING)),
    "release_reply": _specs((1, "reservation", STRING), (2, "state", STRING), (3, "replayed", BOOL)),
    "ping": (),
    "pong": _specs((1, "server_version", STRING), (2, "policy_version", STRING)),
    "reload": (),
    "reload_reply": _specs(
        (1, "policy_version", STRING), (2, "plans", I64), (3, "tenants", I64), (4, "keys", I64),
        (5, "duration_us", I64),
    ),
    "credit": _specs((1, "tenant", STRING), (2, "micros", I64), (3, "memo", STRING), (4, "request_id", STRING)),
    "credit_reply": _specs(
        (1, "tenant", STRING), (2, "balance_micros", I64), (3, "credited_micros", I64), (4, "replayed", BOOL),
    ),
    "status": (),
    "status_reply": _specs(
        (1, "server_version", STRING), (2, "policy_version", STRING), (3, "policy_loaded_at_ms", I64),
        (4, "plans", I64), (5, "tenants", I64), (6, "keys", I64), (7, "uptime_ms", I64), (8, "connections", I64),
        (9, "outbox_depth", I64), (10, "expired_total", I64), (11, "batches_committed", I64),
        (12, "operations_committed", I64), (13, "syncs", I64), (14, "ledger_high_water", I64),
        (15, "ledger_lag_ms", I64), (16, "batch_size_histogram", I64, True), (17, "checkpoints", I64),
    ),
    "usage": _specs(
        (1, "tenant", STRING), (2, "key", STRING), (3, "tag", STRING), (4, "from", STRING), (5, "to", STRING),
        (6, "by", STRING, True),
    ),
    "usage_reply": _specs((1, "json", STRING, True)),
    "error": _specs((1, "code", STRING), (2, "message", STRING)),
}

FIELDS_BY_TAG: Dict[str, Dict[int, FieldSpec]] = {
    message: {spec.tag: spec for spec in specs} for message, specs in FIELDS.items()
}
FIELDS_BY_NAME: Dict[str, Dict[str, FieldSpec]] = {
    message: {spec.name: spec for spec in specs} for message, specs in FIELDS.items()
}

#: Fields that must be present (beyond the either/or rules below).
REQUIRED: Dict[str, Tuple[str, ...]] = {
    "authorize": ("key", "model", "request_id"),
    "settle": ("reservation",),
    "release": ("reservation",),
    "credit": ("tenant", "micros", "request_id"),
    "usage": ("from", "to"),
    "authorize_reply": ("allowed",),
    "settle_reply": ("reservation",),
    "release_reply": ("reservation", "state"),
    "pong": ("server_version", "policy_version"),
    "reload_reply": ("policy_version",),
    "credit_reply": ("tenant",),
    "error": ("code",),
}

#: "exactly one of A, or B and C": (A, B, C) per message. Both forms, neither, or only one of B and C
#: is malformed_field.
#: Byte limits docs/protocol.md states for request fields; a longer value is malformed_field.
#: (Replies may exceed frameBytesMax: a usage reply can be up to 1 MiB.)
# Byte limits of every string field, as docs/protocol.md states them (the server's MessageSchema).
BYTES_MAX: Dict[Tuple[str, str], int] = {
    ("authorize", "key"): 1_024,
    ("authorize", "model"): 128,
    ("authorize", "tag"): 128,
    ("authorize", "request_id"): 128,
    ("authorize_reply", "reason"): 64,
    ("authorize_reply", "reservation"): 128,
    ("authorize_reply", "tenant"): 128,
    ("authorize_reply", "key_id"): 128,
    ("authorize_reply", "tag"): 128,
    ("authorize_reply", "scope"): 300,
    ("authorize_reply", "period"): 64,
    ("authorize_reply", "detail"): 65_535,
    ("settle", "reservation"): 128,
    ("settle", "status"): 64,
    ("settle_reply", "reservation"): 128,
    ("settle_reply", "status"): 64,
    ("release", "reservation"): 128,
    ("release_reply", "reservation"): 128,
    ("release_reply", "state"): 64,
    ("pong", "server_version"): 64,
    ("pong", "policy_version"): 64,
    ("reload_reply", "policy_version"): 64,
    ("credit", "tenant"): 128,
    ("credit", "memo"): 512,
    ("credit", "request_id"): 128,
    ("credit_reply", "tenant"): 128,
    ("status_reply", "server_version"): 64,
    ("status_reply", "policy_version"): 64,
    ("usage", "tenant"): 128,
    ("usage", "key"): 128,
    ("usage", "tag"): 128,
    ("usage", "from"): 64,
    ("usage", "to"): 64,
    ("usage", "by"): 64,
    ("usage_reply", "json"): 65_535,
    ("error", "code"): 64,
    ("error", "message"): 65_535,
}

EITHER_OR: Dict[str, Tuple[str, str, str]] = {
    "authorize": ("estimate_micros", "input_tokens", "max_output_tokens"),
    "settle": ("cost_micros", "input_tokens", "output_tokens"),
}


@dataclass
class Message:
    """One decoded (or to-be-encoded) protocol message."""

    type: str
    correlation_id: int
    fields: Dict[str, Any] = dataclass_field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        return {"type": self.type, "correlation_id": self.correlation_id, "fields": dict(self.fields)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Message":
        return cls(data["type"], int(data["correlation_id"]), dict(data.get("fields", {})))


# --- encoding ------------------------------------------------------------------------------------


def encode_field(tag: int, value: bytes) -> bytes:
    """One raw TLV field. No checks beyond what fits in the u16 tag/length (useful for tests)."""
    return struct.pack(">HH", tag, len(value)) + value


def encode_value(kind: str, value: Any) -> bytes:
    if kind == STRING:
        if not isinstance(value, str):
            raise TypeError(f"expected str, got {type(value).__name__}")
        raw = value.encode("utf-8")
        if len(raw) > 0xFFFF:
            raise ValueError("a string field is at most 65,535 bytes")
        return raw
    if kind == I64:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"expected int, got {type(value).__name__}")
        if not I64_MIN <= value <= I64_MAX:
            raise ValueError(f"{value} does not fit in an i64")
        return struct.pack(">q", value)
    if kind == BOOL:
        if not isinstance(value, bool):
            raise TypeError(f"expected bool, got {type(value).__name__}")
        return b"\x01" if value else b"\x00"
    raise ValueError(f"unknown field kind {kind!r}")


def encode_payload(message_type: str, correlation_id: int, fields: Optional[Mapping[str, Any]] = None) -> bytes:
    """The payload (no length prefix) of a message, fields in ascending tag order."""
    if message_type not in TYPES:
        raise ValueError(f"unknown message type {message_type!r}")
    if not 0 <= correlation_id <= U64_MAX:
        raise ValueError("the correlation id is a u64")
    fields = dict(fields or {})
    by_name = FIELDS_BY_NAME[message_type]
    unknown = sorted(set(fields) - set(by_name))
    if unknown:
        raise ValueError(f"unknown field(s) for {message_type}: {', '.join(unknown)}")
    parts = [struct.pack(">BBQ", PROTOCOL_VERSION, TYPES[message_type], correlation_id)]
    for spec in FIELDS[message_type]:
        if spec.name not in fields or fields[spec.name] is None:
            continue
        value = fields[spec.name]
        values = list(value) if spec.repeated else [value]
        if spec.repeated and isinstance(value, (str, bytes)):
            raise TypeError(f"field {spec.name!r} is repeated: give a list")
        for item in values:
            parts.append(encode_field(spec.tag, encode_value(spec.kind, item)))
    return b"".join(parts)


def frame(payload: bytes) -> bytes:
    """Prefixes a payload with its u32 big-endian length."""
    return struct.pack(">I", len(payload)) + payload


def encode(message_type: Any, correlation_id: Optional[int] = None, fields: Optional[Mapping[str, Any]] = None) -> bytes:
    """A complete frame (length prefix + payload).

    ``encode("ping", 1)``, ``encode("authorize", 7, {...})``, or ``encode(message)`` with a
    :class:`Message` or a vectors-style dict ``{"type", "correlation_id", "fields"}``.
    """
    if isinstance(message_type, Message):
        return frame(encode_payload(message_type.type, message_type.correlation_id, message_type.fields))
    if isinstance(message_type, Mapping):
        message = Message.from_dict(message_type)
        return frame(encode_payload(message.type, message.correlation_id, message.fields))
    if correlation_id is None:
        raise TypeError("encode(type, correlation_id, fields) needs a correlation id")
    return frame(encode_payload(message_type, correlation_id, fields))


# --- decoding ------------------------------------------------------------------------------------

ROLES = ("any", "server", "client")


def _type_name(type_code: int, role: str) -> str:
    name = TYPE_NAMES.get(type_code)
    if role == "server":
        # The server knows only requests: a reply type sent as a request is unknown.
        if name not in REQUEST_TYPES:
            raise ProtocolError(UNKNOWN_TYPE, f"type 0x{type_code:02x} is not a request type")
    elif role == "client":
        if name not in REPLY_TYPES:
            raise ProtocolError(UNKNOWN_TYPE, f"type 0x{type_code:02x} is not a reply type")
    elif name is None:
        raise ProtocolError(UNKNOWN_TYPE, f"unknown type 0x{type_code:02x}")
    return name  # type: ignore[return-value]


def split_fields(body: bytes) -> List[Tuple[int, bytes]]:
    """Raw (tag, value) pairs of a field area; fields overrunning it are ``malformed_frame``."""
    out: List[Tuple[int, bytes]] = []
    offset = 0
    end = len(body)
    while offset < end:
        if end - offset < 4:
            raise ProtocolError(MALFORMED_FRAME, f"a field header at offset {offset} overruns the payload")
        tag, length = struct.unpack_from(">HH", body, offset)
        offset += 4
        if length > end - offset:
            raise ProtocolError(
                MALFORMED_FRAME, f"field {tag} has length {length} with {end - offset} bytes left in the payload"
            )
        out.append((tag, bytes(body[offset:offset + length])))
        offset += length
    return out


def decode_value(spec: FieldSpec, raw: bytes) -> Any:
    if spec.kind == STRING:
        try:
            return raw.decode("utf-8", errors="strict")
        except UnicodeDecodeError:
            raise ProtocolError(MALFORMED_FIELD, f"field {spec.name} is not valid UTF-8") from None
    if spec.kind == I64:
        if len(raw) != 8:
            raise ProtocolError(MALFORMED_FIELD, f"field {spec.name} is an i64 of 8 bytes, got {len(raw)}")
        return struct.unpack(">q", raw)[0]
    if spec.kind == BOOL:
        if len(raw) != 1:
            raise ProtocolError(MALFORMED_FIELD, f"field {spec.name} is a bool of 1 byte, got {len(raw)}")
        if raw not in (b"\x00", b"\x01"):
            raise ProtocolError(MALFORMED_FIELD, f"field {spec.name} is a bool, got 0x{raw[0]:02x}")
        return raw == b"\x01"
    raise ValueError(spec.kind)


def _check_required(message_type: str, fields: Mapping[str, Any]) -> None:
    for name in REQUIRED.get(message_type, ()):
        if name not in fields:
            raise ProtocolError(MALFORMED_FIELD, f"{message_type} is missing required field {name}")
    rule = EITHER_OR.get(message_type)
    if rule:
        single, first, second = rule
        if (first in fields) != (second in fields):
            present, absent = (first, second) if first in fields else (second, first)
            raise ProtocolError(MALFORMED_FIELD, f"{message_type} has {present} without {absent}")
        if single not in fields and first not in fields:
            raise ProtocolError(MALFORMED_FIELD, f"{message_type} needs {single}, or {first} and {second}")
        if single in fields and first in fields:
            raise ProtocolError(MALFORMED_FIELD, f"{message_type} has both {single} and {first}/{second}: give one form")


def decode_payload(payload: bytes, role: str = "any") -> Message:
    """Decodes one payload (no length prefix).

    ``role`` says who is reading: ``"server"`` accepts only request types (a reply type is
    ``unknown_type``), ``"client"`` only reply and error types, ``"any"`` both.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    payload = bytes(payload)
    if len(payload) < HEADER_BYTES:
        raise ProtocolError(MALFORMED_FRAME, f"payload of {len(payload)} bytes is shorter than the 10-byte header")
    version, type_code, correlation_id = struct.unpack_from(">BBQ", payload, 0)
    if version != PROTOCOL_VERSION:
        raise ProtocolError(UNSUPPORTED_VERSION, f"version {version} (this client speaks version 1)")
    message_type = _type_name(type_code, role)
    raw_fields = split_fields(payload[HEADER_BYTES:])
    by_tag = FIELDS_BY_TAG[message_type]
    fields: Dict[str, Any] = {}
    for tag, raw in raw_fields:
        spec = by_tag.get(tag)
        if spec is None:
            continue  # unknown tags are skipped
        value = decode_value(spec, raw)
        bytes_max = BYTES_MAX.get((message_type, spec.name))
        if bytes_max is not None and len(raw) > bytes_max:
            raise ProtocolError(MALFORMED_FIELD, f"{spec.name} of {len(raw)} bytes exceeds {bytes_max}")
        if spec.repeated:
            fields.setdefault(spec.name, []).append(value)
        elif spec.name in fields:
            raise ProtocolError(MALFORMED_FIELD, f"field {spec.name} appears twice")
        else:
            fields[spec.name] = value
    _check_required(message_type, fields)
    return Message(message_type, correlation_id, fields)


def check_prefix(prefix: bytes, frame_bytes_max: int = FRAME_BYTES_MAX_DEFAULT) -> int:
    """Validates a 4-byte length prefix and returns the payload length."""
    if len(prefix) < PREFIX_BYTES:
        raise ProtocolError(MALFORMED_FRAME, "the stream ended inside a length prefix")
    (length,) = struct.unpack_from(">I", prefix, 0)
    if length > frame_bytes_max:
        raise ProtocolError(FRAME_TOO_LARGE, f"length {length} exceeds frameBytesMax {frame_bytes_max}")
    if length < HEADER_BYTES:
        raise ProtocolError(MALFORMED_FRAME, f"length {length} is below the 10-byte header")
    return length


def decode(data: bytes, role: str = "any", frame_bytes_max: int = FRAME_BYTES_MAX_DEFAULT) -> Message:
    """Decodes exactly one complete frame (length prefix + payload).

    The length prefix is checked before the payload is looked at, so an oversized prefix alone is
    ``frame_too_large``. Bytes after the frame are ``malformed_frame``.
    """
    data = bytes(data)
    length = check_prefix(data[:PREFIX_BYTES], frame_bytes_max)
    available = len(data) - PREFIX_BYTES
    if available < length:
        raise ProtocolError(MALFORMED_FRAME, f"the frame ended after {available} of {length} payload bytes")
    if available > length:
        raise ProtocolError(MALFORMED_FRAME, f"{available - length} bytes after the end of the frame")
    return decode_payload(data[PREFIX_BYTES:], role)


class FrameBuffer:
    """Accumulates stream bytes and yields complete payloads (for reading a socket)."""

    def __init__(self, frame_bytes_max: int = FRAME_BYTES_MAX_DEFAULT) -> None:
        self.frame_bytes_max = frame_bytes_max
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def __len__(self) -> int:
        return len(self._buffer)

    def next_payload(self) -> Optional[bytes]:
        """The next complete payload, or None if more bytes are needed."""
        if len(self._buffer) < PREFIX_BYTES:
            return None
        length = check_prefix(bytes(self._buffer[:PREFIX_BYTES]), self.frame_bytes_max)
        if len(self._buffer) < PREFIX_BYTES + length:
            return None
        payload = bytes(self._buffer[PREFIX_BYTES:PREFIX_BYTES + length])
        del self._buffer[:PREFIX_BYTES + length]
        return payload

    def at_boundary(self) -> bool:
        """True when no partial frame is buffered."""
        return len(self._buffer) == 0


def iter_frames(data: bytes, role: str = "any", frame_bytes_max: int = FRAME_BYTES_MAX_DEFAULT) -> Iterable[Message]:
    """Decodes a concatenation of frames; a trailing partial frame is ``malformed_frame``."""
    buffer = FrameBuffer(frame_bytes_max)
    buffer.feed(data)
    while True:
        payload = buffer.next_payload()
        if payload is None:
            break
        yield decode_payload(payload, role)
    if not buffer.at_boundary():
        raise ProtocolError(MALFORMED_FRAME, "the data ended inside a frame")
