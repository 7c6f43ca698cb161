#!/usr/bin/env python3
"""Writes tests/corpus/frames.json: bad (and edge-but-valid) frames for the server, from docs/protocol.md.

Standard library only, and sharing no code with the server or the clients, like
clients/testdata/make_vectors.py: every frame below is spelled out from the wire contract.

    python3 tests/corpus/make_frames.py           # rewrite frames.json
    python3 tests/corpus/make_frames.py --check   # exit 1 if frames.json is not what this writes

Entries of "frames":
  name            stable name
  kind            "frame": bytes the server reads, then the connection stays open for its answer;
                  "truncated": the client sends these bytes and then shuts down its write side (EOF
                  inside a frame or inside a length prefix)
  direction       "to_server" (decoded as the server does: payloadLength, then WireRequest(payload:))
                  or "to_client" (decoded as a client does: WireCodec.decode; never sent to the daemon)
  hex             the whole byte stream, length prefix included
  error           the exact error code
  closes          whether the server closes the connection after the error
  correlation_id  the correlation id of the error reply (0 when the payload was never read or is
                  shorter than a header)
  before          reply types the daemon sends on the connection before the error (a valid frame ahead of it)
  layer           "codec": the codec itself refuses the bytes; "server": the codec accepts them and the
                  daemon refuses the request (admin_only, unknown_reservation, bad_request)
  note            why

Entries of "accepted": frames at an edge that must be accepted, with the reply type the daemon answers
and the reply fields that are checked.

The authorize frames use the secret of key k_main of tests/integration/policy.yaml, so a frame the
daemon wrongly accepted would reserve money and show in `purser state`. Settle and release frames
name the reservation PLACEHOLDER_RESERVATION; the daemon test replaces those 36 bytes with a live
reservation it holds open, so a wrongly accepted settle or release would end it.
"""
from __future__ import annotations

import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "frames.json")

MAIN_SECRET = "sk-itest-main-9Xc2vQ"
UNKNOWN_SECRET = "sk-itest-unknown-Cz0A"
MODEL = "gpt-5.4"
PLACEHOLDER_RESERVATION = "rsv_" + "f" * 32  # same length as a real reservation id

AUTHORIZE, SETTLE, RELEASE, PING, RELOAD, CREDIT, STATUS, USAGE = 0x01, 0x02, 0x03, 0x04, 0x10, 0x11, 0x12, 0x13
ERROR, AUTHORIZE_REPLY, SETTLE_REPLY, RELEASE_REPLY, PONG, CREDIT_REPLY = 0x7F, 0x81, 0x82, 0x83, 0x84, 0x91


def u16(value: int) -> bytes:
    return struct.pack(">H", value)


def u32(value: int) -> bytes:
    return struct.pack(">I", value)


def header(message_type: int, correlation_id: int, version: int = 1) -> bytes:
    return bytes([version, message_type]) + struct.pack(">Q", correlation_id)


def field(tag: int, value: bytes, length: int = None) -> bytes:
    """A TLV field; `length` overrides the declared length (to lie about it)."""
    return u16(tag) + u16(len(value) if length is None else length) + value


def s(tag: int, text, length: int = None) -> bytes:
    return field(tag, text.encode() if isinstance(text, str) else text, length)


def i64(tag: int, value: int, size: int = 8) -> bytes:
    raw = struct.pack(">q", value)
    if size <= 8:
        raw = raw[8 - size:]
    else:
        raw = bytes(size - 8) + raw
    return field(tag, raw)


def boolean(tag: int, byte: int) -> bytes:
    return field(tag, bytes([byte]))


def frame(payload: bytes) -> bytes:
    return u32(len(payload)) + payload


# Field bundles of valid requests.
KEY, MODEL_F, REQUEST_ID = s(1, MAIN_SECRET), s(2, MODEL), s(7, "corpus-r1")
ESTIMATE = i64(4, 1500)
RESERVATION = s(1, PLACEHOLDER_RESERVATION)

frames = []
accepted = []
next_id = [0x0C0000]


def cid() -> int:
    next_id[0] += 1
    return next_id[0]


def bad(name, payload_or_stream, error, note, *, correlation_id=None, kind="frame", raw=False, direction="to_server",
        layer="codec", closes=None, before=()):
    """One bad entry. `payload_or_stream` is a payload (prefixed here) or, with raw=True, the exact bytes."""
    stream = payload_or_stream if raw else frame(payload_or_stream)
    if correlation_id is None:
        payload = stream[4:]
        correlation_id = int.from_bytes(payload[2:10], "big") if len(payload) >= 10 and not raw else 0
    frames.append({
        "name": name, "kind": kind, "direction": direction, "hex": stream.hex(), "error": error,
        "closes": closes if closes is not None else error in CLOSING, "correlation_id": correlation_id,
        "layer": layer, "before": list(before), "note": note,
    })


def ok(name, payload, reply_type, note, reply_fields=None):
    accepted.append({"name": name, "hex": frame(payload).hex(), "reply_type": reply_type,
                     "reply_fields": reply_fields or {}, "note": note})


CLOSING = {"malformed_frame", "frame_too_large", "unsupported_version", "unknown_type", "malformed_field"}
MF, TOO_LARGE, VERSION, TYPE, FIELD = "malformed_frame", "frame_too_large", "unsupported_version", "unknown_type", "malformed_field"


def authorize(*fields, correlation_id=None) -> bytes:
    return header(AUTHORIZE, correlation_id if correlation_id is not None else cid()) + b"".join(fields)


def settle(*fields) -> bytes:
    return header(SETTLE, cid()) + b"".join(fields)


def release(*fields) -> bytes:
    return header(RELEASE, cid()) + b"".join(fields)


def credit(*fields) -> bytes:
    return header(CREDIT, cid()) + b"".join(fields)


def usage(*fields) -> bytes:
    return header(USAGE, cid()) + b"".join(fields)


PING_HEADER = header(PING, 0x0C0FFE)

# --- length prefix -------------------------------------------------------------------------------
bad("length_0", u32(0), MF, "length 0: below the 10-byte header; refused on the prefix alone", raw=True)
bad("length_1", u32(1) + b"\x01", MF, "length 1 with its one byte", raw=True)
bad("length_9", u32(9) + PING_HEADER[:9], MF, "length 9, one byte short of a header; refused on the prefix (correlation id 0)", raw=True)
bad("length_65537", u32(65537) + PING_HEADER, TOO_LARGE, "one byte over frameBytesMax (65,536); refused before the payload is read, so only its first bytes are sent", raw=True)
bad("length_0x7fffffff", u32(0x7FFFFFFF) + PING_HEADER, TOO_LARGE, "largest positive i32", raw=True)
bad("length_0x80000000", u32(0x80000000), TOO_LARGE, "sign bit of an i32 set: must not wrap to a negative length", raw=True)
bad("length_0xffffffff", u32(0xFFFFFFFF) + PING_HEADER, TOO_LARGE, "largest u32: must not wrap to -1", raw=True)

ok("length_10_ping", header(PING, 0x0C0A01), "pong", "the smallest valid payload: a bare 10-byte header")
ok("length_65536_ping", header(PING, 0x0C0A02) + field(0x7777, bytes(65536 - 10 - 4)),
   "pong", "exactly frameBytesMax: a ping padded with one unknown 65,522-byte field")
ok("ping_unknown_fields", header(PING, 0x0C0A03) + field(0xFFFF, b"") + field(1, b"\xff\xfe") + field(9, b"x" * 8),
   "pong", "unknown tags are skipped whatever their length or bytes (ping has no fields at all)")
ok("authorize_key_1024_bytes", authorize(s(1, "k" * 1024), MODEL_F, ESTIMATE, REQUEST_ID, correlation_id=0x0C0A04),
   "authorize_reply", "key at its 1,024-byte limit is well formed; no such key", {"allowed": False, "reason": "unknown_key"})
ok("authorize_limits_128", authorize(s(1, UNKNOWN_SECRET), s(2, "m" * 128), s(3, "t" * 128), ESTIMATE, s(7, "r" * 128),
                                     correlation_id=0x0C0A05),
   "authorize_reply", "model, tag and request_id at their 128-byte limits", {"allowed": False, "reason": "unknown_key"})
ok("authorize_empty_key", authorize(s(1, ""), MODEL_F, ESTIMATE, REQUEST_ID, correlation_id=0x0C0A06),
   "authorize_reply", "a zero-length string is well formed; no key has the empty secret", {"allowed": False, "reason": "unknown_key"})

# --- version -------------------------------------------------------------------------------------
bad("version_0", header(PING, cid(), version=0), VERSION, "ping with version 0")
bad("version_2", header(PING, cid(), version=2), VERSION, "ping with version 2")
bad("version_255", header(PING, cid(), version=255), VERSION, "ping with version 255")
bad("version_before_type", header(0x55, cid(), version=2), VERSION, "a bad version is reported before an unknown type")
bad("version_2_short_header", bytes([2]), MF, "a 1-byte payload with version 2: too short is reported first, correlation id 0")

# --- message type --------------------------------------------------------------------------------
bad("type_0x00", header(0x00, cid()), TYPE, "type 0")
bad("type_0x05", header(0x05, cid()), TYPE, "the gap after ping")
bad("type_0x14", header(0x14, cid()), TYPE, "the type after usage")
bad("type_0x7e", header(0x7E, cid()), TYPE, "just below error")
bad("type_0xff", header(0xFF, cid()), TYPE, "type 255")
bad("type_0x80", header(0x80, cid()), TYPE, "high bit set on type 0")
bad("reply_pong_as_request", header(PONG, cid()), TYPE, "pong (0x84) sent to the server")
bad("reply_error_as_request", header(ERROR, cid()) + s(1, "malformed_frame"), TYPE, "an error frame sent to the server")
bad("reply_error_as_request_no_code", header(ERROR, cid()), TYPE,
    "an error frame without its required code: still unknown_type, not malformed_field (a reply type is refused as such)")
bad("reply_authorize_reply_as_request", header(AUTHORIZE_REPLY, cid()) + boolean(1, 1), TYPE, "authorize_reply sent to the server")
bad("reply_authorize_reply_as_request_no_fields", header(AUTHORIZE_REPLY, cid()), TYPE,
    "authorize_reply without its required allowed field: unknown_type")
bad("reply_credit_reply_bad_bool_as_request", header(CREDIT_REPLY, cid()) + s(1, "main") + boolean(4, 7), TYPE,
    "credit_reply with a bool of 7: the type is refused before its fields are judged")

# --- field structure -----------------------------------------------------------------------------
bad("field_header_cut_1", PING_HEADER + b"\x00", MF, "one byte of a field header after a ping header")
bad("field_header_cut_3", header(PING, cid()) + b"\x00\x01\x00", MF, "three bytes of a field header")
bad("authorize_last_field_header_cut", authorize(KEY, MODEL_F, ESTIMATE, REQUEST_ID) + b"\x00\x09", MF,
    "a valid authorize followed by two bytes of a field header")
bad("field_overruns_by_1", authorize(KEY, MODEL_F, ESTIMATE, s(7, "corpus-r1", length=10)), MF,
    "request_id declares 10 bytes, 9 remain")
bad("field_length_0xffff_overruns", authorize(KEY, MODEL_F, ESTIMATE, REQUEST_ID, s(1, "abc", length=0xFFFF)), MF,
    "a repeated-but-cut key field declaring 65,535 bytes; overrun is checked before the duplicate")
bad("unknown_tag_overruns", header(PING, cid()) + s(0x0063, "abc", length=4), MF,
    "an unknown tag is skipped only if its length fits: overrunning is malformed_frame even for unknown tags")
bad("bad_field_then_overrun", authorize(KEY, s(2, b"\xc0\xaf"), s(7, "x", length=9)), FIELD,
    "the first problem met wins: bad UTF-8 in model comes before the overrunning request_id")
bad("overrun_then_missing", header(SETTLE, cid()) + s(5, "ok", length=3), MF,
    "overrun is found while reading fields, before required fields are checked")

# --- i64 lengths ---------------------------------------------------------------------------------
bad("authorize_estimate_7_bytes", authorize(KEY, MODEL_F, i64(4, 1500, 7), REQUEST_ID), FIELD, "estimate_micros of 7 bytes")
bad("authorize_estimate_9_bytes", authorize(KEY, MODEL_F, i64(4, 1500, 9), REQUEST_ID), FIELD, "estimate_micros of 9 bytes")
bad("authorize_input_tokens_0_bytes", authorize(KEY, MODEL_F, field(5, b""), i64(6, 10), REQUEST_ID), FIELD, "input_tokens of 0 bytes")
bad("authorize_max_output_tokens_4_bytes", authorize(KEY, MODEL_F, i64(5, 10), i64(6, 10, 4), REQUEST_ID), FIELD,
    "max_output_tokens of 4 bytes")
bad("settle_cost_7_bytes", settle(RESERVATION, i64(2, 100, 7)), FIELD, "cost_micros of 7 bytes")
bad("settle_input_tokens_16_bytes", settle(RESERVATION, i64(3, 1, 16), i64(4, 1)), FIELD, "input_tokens of 16 bytes")
bad("settle_output_tokens_1_byte", settle(RESERVATION, i64(3, 1), i64(4, 1, 1)), FIELD, "output_tokens of 1 byte")
bad("settle_retries_2_bytes", settle(RESERVATION, i64(2, 100), i64(6, 1, 2)), FIELD, "retries of 2 bytes")
bad("credit_micros_0_bytes", credit(s(1, "prepaid"), field(2, b""), s(4, "corpus-c1")), FIELD,
    "credit micros of 0 bytes (decoding fails before the admin check)")
bad("credit_micros_7_bytes", credit(s(1, "prepaid"), i64(2, 1000, 7), s(4, "corpus-c1")), FIELD, "credit micros of 7 bytes")

# --- bools (only replies carry bools: decoded as a client does) ----------------------------------
bad("authorize_reply_allowed_2", header(AUTHORIZE_REPLY, cid()) + boolean(1, 2), FIELD, "allowed = 2", direction="to_client")
bad("authorize_reply_allowed_255", header(AUTHORIZE_REPLY, cid()) + boolean(1, 255), FIELD, "allowed = 255", direction="to_client")
bad("authorize_reply_allowed_0_bytes", header(AUTHORIZE_REPLY, cid()) + field(1, b""), FIELD, "allowed of 0 bytes", direction="to_client")
bad("authorize_reply_replayed_2_bytes", header(AUTHORIZE_REPLY, cid()) + boolean(1, 1) + field(18, b"\x00\x01"), FIELD,
    "replayed of 2 bytes", direction="to_client")
bad("settle_reply_late_2", header(SETTLE_REPLY, cid()) + RESERVATION + boolean(8, 2), FIELD, "late = 2", direction="to_client")
bad("release_reply_replayed_255", header(RELEASE_REPLY, cid()) + RESERVATION + boolean(3, 255), FIELD, "replayed = 255",
    direction="to_client")
bad("credit_reply_replayed_0x80", header(CREDIT_REPLY, cid()) + s(1, "main") + boolean(4, 0x80), FIELD, "replayed = 0x80",
    direction="to_client")
bad("authorize_reply_missing_allowed", header(AUTHORIZE_REPLY, cid()) + s(2, "unknown_key"), FIELD,
    "a reply without its required allowed field", direction="to_client")
bad("error_reply_missing_code", header(ERROR, cid()) + s(2, "hello"), FIELD, "an error without its code", direction="to_client")

# --- UTF-8 ---------------------------------------------------------------------------------------
bad("utf8_overlong_slash_in_key", authorize(s(1, b"sk-\xc0\xaf"), MODEL_F, ESTIMATE, REQUEST_ID), FIELD, "overlong '/' (C0 AF) in key")
bad("utf8_overlong_nul_in_memo", credit(s(1, "prepaid"), i64(2, 1000), s(3, b"\xc0\x80"), s(4, "corpus-c1")), FIELD,
    "overlong NUL (C0 80, 'modified UTF-8') in memo")
bad("utf8_overlong_3_byte", authorize(KEY, s(2, b"\xe0\x80\xaf"), ESTIMATE, REQUEST_ID), FIELD, "3-byte overlong '/' in model")
bad("utf8_lone_high_surrogate", authorize(KEY, s(2, b"gpt\xed\xa0\x80"), ESTIMATE, REQUEST_ID), FIELD,
    "U+D800 encoded as ED A0 80 (CESU/WTF-8) in model")
bad("utf8_lone_low_surrogate", settle(s(1, b"rsv_\xed\xbf\xbf"), i64(2, 1)), FIELD, "U+DFFF in reservation")
bad("utf8_truncated_sequence", authorize(KEY, MODEL_F, ESTIMATE, s(7, b"r-\xe2\x82")), FIELD,
    "request_id ends inside a 3-byte sequence (E2 82 of the euro sign)")
bad("utf8_truncated_then_ascii", authorize(KEY, MODEL_F, s(3, b"\xf0\x9f\x98x"), ESTIMATE, REQUEST_ID), FIELD,
    "tag holds a 4-byte sequence cut by an ASCII byte")
bad("utf8_lone_continuation", release(s(1, b"\x80rsv")), FIELD, "reservation starts with a continuation byte")
bad("utf8_above_u10ffff", usage(s(4, "2026-01-01"), s(5, b"\xf4\x90\x80\x80")), FIELD, "F4 90 80 80 (U+110000) in usage to")
bad("utf8_ff_byte", authorize(KEY, MODEL_F, s(3, b"ok"), s(3, b"\xff"), ESTIMATE, REQUEST_ID), FIELD,
    "the second tag is the byte FF")

# --- string limits -------------------------------------------------------------------------------
bad("key_1025_bytes", authorize(s(1, "k" * 1025), MODEL_F, ESTIMATE, REQUEST_ID), FIELD, "key one byte over 1,024")
bad("model_129_bytes", authorize(KEY, s(2, "m" * 129), ESTIMATE, REQUEST_ID), FIELD, "model one byte over 128")
bad("request_id_129_bytes", authorize(KEY, MODEL_F, ESTIMATE, s(7, "r" * 129)), FIELD, "request_id one byte over 128")
bad("tag_129_bytes", authorize(KEY, MODEL_F, s(3, "t" * 129), ESTIMATE, REQUEST_ID), FIELD, "tag one byte over 128")
bad("model_limit_counts_bytes", authorize(KEY, s(2, "é" * 65), ESTIMATE, REQUEST_ID), FIELD,
    "65 characters but 130 bytes: the limit is in bytes")
bad("reservation_129_bytes", settle(s(1, "r" * 129), i64(2, 1)), FIELD, "settle reservation one byte over 128")
bad("settle_status_65_bytes", settle(RESERVATION, i64(2, 1), s(5, "o" * 65)), FIELD, "settle status one byte over 64")
bad("release_reservation_65522_bytes", release(s(1, "r" * 65522)), FIELD,
    "release reservation of 65,522 bytes, in a payload of exactly frameBytesMax: the field limit, not the frame limit, refuses it")
bad("credit_memo_513_bytes", credit(s(1, "prepaid"), i64(2, 1000), s(3, "m" * 513), s(4, "corpus-c1")), FIELD, "memo one byte over 512")
bad("credit_tenant_129_bytes", credit(s(1, "t" * 129), i64(2, 1000), s(4, "corpus-c1")), FIELD, "credit tenant one byte over 128")

# --- duplicates ----------------------------------------------------------------------------------
bad("authorize_duplicate_key", authorize(KEY, KEY, MODEL_F, ESTIMATE, REQUEST_ID), FIELD, "key twice (identical values)")
bad("authorize_duplicate_estimate", authorize(KEY, MODEL_F, ESTIMATE, i64(4, 1), REQUEST_ID), FIELD, "estimate_micros twice")
bad("authorize_duplicate_request_id", authorize(KEY, MODEL_F, ESTIMATE, REQUEST_ID, s(7, "corpus-r2")), FIELD, "request_id twice")
bad("authorize_duplicate_out_of_order", authorize(REQUEST_ID, KEY, MODEL_F, ESTIMATE, s(2, "cheap-model")), FIELD,
    "model twice, fields out of tag order")
bad("settle_duplicate_reservation", settle(RESERVATION, i64(2, 1), RESERVATION), FIELD, "reservation twice")
bad("settle_duplicate_status", settle(RESERVATION, i64(2, 1), s(5, "ok"), s(5, "error")), FIELD, "status twice")
bad("release_duplicate_reservation", release(RESERVATION, RESERVATION), FIELD, "reservation twice")
bad("credit_duplicate_micros", credit(s(1, "prepaid"), i64(2, 1000), i64(2, 1000), s(4, "corpus-c1")), FIELD, "micros twice")
bad("usage_duplicate_from", usage(s(4, "2026-01-01"), s(4, "2026-01-02"), s(5, "2026-01-31")), FIELD, "usage from twice")

# --- missing required fields and estimate/cost forms ----------------------------------------------
bad("authorize_no_fields", authorize(), FIELD, "a bare authorize header")
bad("authorize_missing_key", authorize(MODEL_F, ESTIMATE, REQUEST_ID), FIELD, "no key")
bad("authorize_missing_model", authorize(KEY, ESTIMATE, REQUEST_ID), FIELD, "no model")
bad("authorize_missing_request_id", authorize(KEY, MODEL_F, ESTIMATE), FIELD, "no request_id")
bad("authorize_no_estimate", authorize(KEY, MODEL_F, REQUEST_ID), FIELD, "neither estimate form")
bad("authorize_only_input_tokens", authorize(KEY, MODEL_F, i64(5, 100), REQUEST_ID), FIELD, "input_tokens without max_output_tokens")
bad("authorize_only_max_output_tokens", authorize(KEY, MODEL_F, i64(6, 100), REQUEST_ID), FIELD, "max_output_tokens without input_tokens")
bad("authorize_both_estimate_forms", authorize(KEY, MODEL_F, ESTIMATE, i64(5, 100), i64(6, 100), REQUEST_ID), FIELD,
    "estimate_micros and the token pair")
bad("authorize_estimate_and_input_tokens", authorize(KEY, MODEL_F, ESTIMATE, i64(5, 100), REQUEST_ID), FIELD,
    "estimate_micros with only input_tokens")
bad("settle_no_fields", settle(), FIELD, "a bare settle header")
bad("settle_missing_reservation", settle(i64(2, 100)), FIELD, "no reservation")
bad("settle_no_cost", settle(RESERVATION), FIELD, "neither cost form")
bad("settle_no_cost_with_status", settle(RESERVATION, s(5, "ok"), i64(6, 0)), FIELD, "status and retries but no cost")
bad("settle_only_input_tokens", settle(RESERVATION, i64(3, 10)), FIELD, "input_tokens without output_tokens")
bad("settle_only_output_tokens", settle(RESERVATION, i64(4, 10)), FIELD, "output_tokens without input_tokens")
bad("settle_both_cost_forms", settle(RESERVATION, i64(2, 100), i64(3, 10), i64(4, 10)), FIELD, "cost_micros and the token pair")
bad("release_missing_reservation", release(), FIELD, "a bare release header")
bad("release_unknown_field_only", release(s(2, PLACEHOLDER_RESERVATION)), FIELD,
    "the reservation under an unknown tag is skipped, so the required field is missing")
bad("credit_missing_tenant", credit(i64(2, 1000), s(4, "corpus-c1")), FIELD, "no tenant")
bad("credit_missing_micros", credit(s(1, "prepaid"), s(4, "corpus-c1")), FIELD, "no micros")
bad("credit_missing_request_id", credit(s(1, "prepaid"), i64(2, 1000)), FIELD, "no request_id")
bad("usage_missing_to", usage(s(4, "2026-01-01")), FIELD, "usage without to")

# --- the stream ends inside a frame --------------------------------------------------------------
DOC_AUTHORIZE = frame(authorize(s(1, "pk_demo"), MODEL_F, ESTIMATE, s(7, "r-1"), correlation_id=7))
bad("truncated_in_prefix", u32(10)[:2], MF, "EOF after 2 bytes of a length prefix", raw=True, kind="truncated")
bad("truncated_before_payload", u32(10), MF, "EOF right after a valid length prefix", raw=True, kind="truncated")
bad("truncated_in_header", u32(51) + DOC_AUTHORIZE[4:9], MF, "EOF inside the header", raw=True, kind="truncated")
bad("truncated_in_field", DOC_AUTHORIZE[:-2], MF, "the documented authorize, minus its last 2 bytes", raw=True, kind="truncated")
bad("truncated_after_ping", frame(header(PING, 0x0C0B01)) + u32(10)[:3], MF,
    "a whole ping (answered) then EOF inside the next prefix; the error has correlation id 0", raw=True, kind="truncated",
    before=["pong"])

# --- well formed, refused by the server, connection stays open -----------------------------------
bad("admin_credit_on_data_socket", credit(s(1, "prepaid"), i64(2, 1_000_000), s(4, "corpus-c1")), "admin_only",
    "a valid credit on the data socket must not credit anything", layer="server")
bad("admin_reload_on_data_socket", header(RELOAD, cid()), "admin_only", "reload on the data socket", layer="server")
bad("admin_status_on_data_socket", header(STATUS, cid()), "admin_only", "status on the data socket", layer="server")
bad("admin_usage_on_data_socket", usage(s(4, "2026-01-01"), s(5, "2026-01-31")), "admin_only", "usage on the data socket", layer="server")
bad("settle_unknown_reservation", settle(s(1, "rsv_" + "0" * 32), i64(2, 1)), "unknown_reservation",
    "a reservation id never issued", layer="server")
bad("release_unknown_reservation", release(s(1, "nope")), "unknown_reservation", "a reservation id never issued", layer="server")
bad("settle_bad_status", settle(RESERVATION, i64(2, 1), s(5, "bogus")), "bad_request",
    "unknown status on the live reservation: nothing is charged", layer="server")
bad("settle_negative_cost", settle(RESERVATION, i64(2, -1)), "bad_request",
    "negative cost on the live reservation: nothing is charged", layer="server")

document = {
    "generated_by": "tests/corpus/make_frames.py",
    "protocol_version": 1,
    "frame_bytes_max": 65536,
    "placeholder_reservation": PLACEHOLDER_RESERVATION,
    "frames": frames,
    "accepted": accepted,
}

names = [entry["name"] for entry in frames + accepted]
assert len(names) == len(set(names)), "duplicate names"
text = json.dumps(document, indent=1) + "\n"
if "--check" in sys.argv[1:]:
    with open(OUT) as handle:
        sys.exit(0 if handle.read() == text else 1)
with open(OUT, "w") as handle:
    handle.write(text)
print(f"wrote {OUT}: {len(frames)} bad frames, {len(accepted)} accepted")
