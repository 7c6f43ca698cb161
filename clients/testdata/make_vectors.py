#!/usr/bin/env python3
"""Writes vectors.json: Purser protocol v1 frames in hex with their meaning.

This encoder is written from docs/protocol.md alone and shares no code with the Swift server or
any client, so the vectors are an independent check of both. Run it after changing the protocol
document, and commit the output: `python3 clients/testdata/make_vectors.py`.
"""
import json
import os
import struct

TYPES = {
    "authorize": 0x01, "settle": 0x02, "release": 0x03, "ping": 0x04,
    "reload": 0x10, "credit": 0x11, "status": 0x12, "usage": 0x13, "usage_reply": 0x93,
    "authorize_reply": 0x81, "settle_reply": 0x82, "release_reply": 0x83, "pong": 0x84,
    "reload_reply": 0x90, "credit_reply": 0x91, "status_reply": 0x92, "error": 0x7F,
}

# (tag, name, type, repeated) per message, from docs/protocol.md.
FIELDS = {
    "authorize": [(1, "key", "string"), (2, "model", "string"), (3, "tag", "string[]"), (4, "estimate_micros", "i64"),
                  (5, "input_tokens", "i64"), (6, "max_output_tokens", "i64"), (7, "request_id", "string")],
    "authorize_reply": [(1, "allowed", "bool"), (2, "reason", "string"), (3, "status", "i64"), (4, "reservation", "string"),
                        (5, "tenant", "string"), (6, "key_id", "string"), (7, "tag", "string[]"), (8, "estimate_micros", "i64"),
                        (9, "expires_at_ms", "i64"), (10, "remaining_micros", "i64"), (11, "scope", "string"),
                        (12, "period", "string"), (13, "cap_micros", "i64"), (14, "retry_after_ms", "i64"),
                        (15, "requests_remaining", "i64"), (16, "tokens_remaining", "i64"), (17, "detail", "string"),
                        (18, "replayed", "bool")],
    "settle": [(1, "reservation", "string"), (2, "cost_micros", "i64"), (3, "input_tokens", "i64"),
               (4, "output_tokens", "i64"), (5, "status", "string"), (6, "retries", "i64")],
    "settle_reply": [(1, "reservation", "string"), (2, "cost_micros", "i64"), (3, "input_tokens", "i64"),
                     (4, "output_tokens", "i64"), (5, "status", "string"), (6, "retries", "i64"),
                     (7, "overdraft_micros", "i64"), (8, "late", "bool"), (9, "replayed", "bool"), (10, "settled_at_ms", "i64")],
    "release": [(1, "reservation", "string")],
    "release_reply": [(1, "reservation", "string"), (2, "state", "string"), (3, "replayed", "bool")],
    "ping": [],
    "pong": [(1, "server_version", "string"), (2, "policy_version", "string")],
    "reload": [],
    "reload_reply": [(1, "policy_version", "string"), (2, "plans", "i64"), (3, "tenants", "i64"), (4, "keys", "i64"),
                     (5, "duration_us", "i64")],
    "credit": [(1, "tenant", "string"), (2, "micros", "i64"), (3, "memo", "string"), (4, "request_id", "string")],
    "credit_reply": [(1, "tenant", "string"), (2, "balance_micros", "i64"), (3, "credited_micros", "i64"), (4, "replayed", "bool")],
    "status": [],
    "status_reply": [(1, "server_version", "string"), (2, "policy_version", "string"), (3, "policy_loaded_at_ms", "i64"),
                     (4, "plans", "i64"), (5, "tenants", "i64"), (6, "keys", "i64"), (7, "uptime_ms", "i64"),
                     (8, "connections", "i64"), (9, "outbox_depth", "i64"), (10, "expired_total", "i64"),
                     (11, "batches_committed", "i64"), (12, "operations_committed", "i64"), (13, "syncs", "i64"),
                     (14, "ledger_high_water", "i64"), (15, "ledger_lag_ms", "i64"), (16, "batch_size_histogram", "i64[]"),
                     (17, "checkpoints", "i64")],
    "usage": [(1, "tenant", "string"), (2, "key", "string"), (3, "tag", "string"), (4, "from", "string"), (5, "to", "string"),
              (6, "by", "string[]")],
    "usage_reply": [(1, "json", "string[]")],
    "error": [(1, "code", "string"), (2, "message", "string")],
}


def field(tag, value_bytes):
    return struct.pack(">HH", tag, len(value_bytes)) + value_bytes


def encode_value(kind, value):
    if kind.startswith("string"):
        return value.encode("utf-8")
    if kind == "i64":
        return struct.pack(">q", value)
    if kind == "bool":
        return b"\x01" if value else b"\x00"
    raise ValueError(kind)


def encode(message_type, correlation_id, fields):
    body = b""
    for tag, name, kind in FIELDS[message_type]:
        if name not in fields:
            continue
        values = fields[name] if kind.endswith("[]") else [fields[name]]
        for value in values:
            body += field(tag, encode_value(kind, value))
    payload = struct.pack(">BBQ", 1, TYPES[message_type], correlation_id) + body
    return struct.pack(">I", len(payload)) + payload


def good(name, message_type, correlation_id, fields, note):
    direction = "to_server" if TYPES[message_type] < 0x7F else "to_client"
    return {"name": name, "valid": True, "direction": direction, "note": note, "hex": encode(message_type, correlation_id, fields).hex(),
            "message": {"type": message_type, "correlation_id": correlation_id, "fields": fields}}


def bad(name, frame, error, note, direction="to_server"):
    """`direction` says who decodes the frame: the server (a request) or a client (a reply)."""
    return {"name": name, "valid": False, "direction": direction, "note": note, "hex": frame.hex(), "error": error}


def raw(payload):
    return struct.pack(">I", len(payload)) + payload


HEADER_AUTHORIZE = struct.pack(">BBQ", 1, 0x01, 9)

vectors = [
    good("ping", "ping", 1, {}, "the smallest valid frame"),
    good("pong", "pong", 1, {"server_version": "0.1.0", "policy_version": "ab" * 32}, "reply to ping"),
    good("authorize_micros", "authorize", 7, {"key": "pk_demo", "model": "gpt-5.4", "estimate_micros": 1500, "request_id": "r-1"},
         "estimate in micros; the example in docs/protocol.md"),
    good("authorize_tokens_tags", "authorize", 8,
         {"key": "pk_demo", "model": "gpt-5.4-mini", "tag": ["summarize", "batch-eval"], "input_tokens": 1200,
          "max_output_tokens": 800, "request_id": "req-0001"},
         "estimate in tokens, two tags (a repeated field, in order)"),
    good("authorize_reply_allow", "authorize_reply", 7,
         {"allowed": True, "reservation": "rsv_00000000000000000000000000000001", "tenant": "acme", "key_id": "key_acme_prod",
          "tag": ["acme"], "estimate_micros": 1500, "expires_at_ms": 1795349400000, "remaining_micros": 39998500,
          "scope": "tenant:acme", "period": "day", "cap_micros": 40000000, "requests_remaining": 299,
          "tokens_remaining": 200000, "replayed": False},
         "an allow with its lowest remaining budget"),
    good("authorize_reply_budget_exceeded", "authorize_reply", 7,
         {"allowed": False, "reason": "budget_exceeded", "status": 402, "remaining_micros": -1500000, "scope": "tenant:globex",
          "period": "month", "cap_micros": 5000000},
         "a deny after an overdraft: remaining is negative"),
    good("authorize_reply_rate_limited", "authorize_reply", 3,
         {"allowed": False, "reason": "rate_limited", "status": 429, "scope": "key:key_acme_prod", "retry_after_ms": 2000,
          "detail": "rpm"},
         "a deny with an exact retry_after_ms"),
    good("settle_micros", "settle", 11, {"reservation": "rsv_00000000000000000000000000000001", "cost_micros": 1234, "status": "ok"},
         "actual cost in micros"),
    good("settle_tokens", "settle", 12,
         {"reservation": "rsv_00000000000000000000000000000002", "input_tokens": 1200, "output_tokens": 345, "status": "error", "retries": 2},
         "actual cost in tokens, with status and retries"),
    good("settle_reply", "settle_reply", 11,
         {"reservation": "rsv_00000000000000000000000000000001", "cost_micros": 1234, "input_tokens": 0, "output_tokens": 0,
          "status": "ok", "retries": 0, "overdraft_micros": 0, "late": False, "replayed": False, "settled_at_ms": 1795348801000},
         "a first settle"),
    good("release", "release", 13, {"reservation": "rsv_00000000000000000000000000000003"}, "release without charge"),
    good("release_reply", "release_reply", 13, {"reservation": "rsv_00000000000000000000000000000003", "state": "released", "replayed": False}, ""),
    good("credit", "credit", 21, {"tenant": "initech", "micros": 25000000, "memo": "wire transfer 2026-11", "request_id": "credit-42"}, "admin socket only"),
    good("credit_reply", "credit_reply", 21, {"tenant": "initech", "balance_micros": 25000000, "credited_micros": 25000000, "replayed": False}, ""),
    good("reload", "reload", 22, {}, "admin socket only"),
    good("status", "status", 23, {}, "admin socket only"),
    good("usage", "usage", 24, {"tenant": "acme", "from": "2026-11-01", "to": "2026-11-30", "by": ["model", "day"]},
         "admin socket only; a usage page for one tenant and month"),
    good("usage_reply", "usage_reply", 24,
         {"json": ['{"from":"2026-11-01","to":"2026-11-30","filter":{"tenant":"acme"},"summary":{"requests":1,', '"errors":0}}']},
         "a JSON document in two chunks"),
    good("error_permission_denied", "error", 0, {"code": "permission_denied", "message": "this uid and gid may not use this socket"},
         "sent on accept, before any request, to a peer outside the allowlist"),
    good("error_admin_only", "error", 21, {"code": "admin_only", "message": "credit is accepted on the admin socket only"},
         "the reply to an admin message on the data socket"),
    {**good("authorize_unknown_field", "authorize", 9, {"key": "pk_demo", "model": "gpt-5.4", "estimate_micros": 1, "request_id": "r"},
            "an unknown tag 99 is skipped"),
     "hex": raw(HEADER_AUTHORIZE + field(1, b"pk_demo") + field(2, b"gpt-5.4") + field(4, struct.pack(">q", 1))
                + field(99, b"future") + field(7, b"r")).hex(),
     "message": {"type": "authorize", "correlation_id": 9, "fields": {"key": "pk_demo", "model": "gpt-5.4", "estimate_micros": 1, "request_id": "r"}}},
    bad("short_payload", raw(b"\x01\x04\x00\x00"), "malformed_frame", "payload shorter than the 10-byte header"),
    bad("unsupported_version", raw(struct.pack(">BBQ", 2, 0x04, 1)), "unsupported_version", "version 2"),
    bad("unknown_type", raw(struct.pack(">BBQ", 1, 0x55, 1)), "unknown_type", "type 0x55"),
    bad("reply_type_as_request", raw(struct.pack(">BBQ", 1, 0x84, 1)), "unknown_type", "a pong sent to the server"),
    bad("field_overruns_payload", raw(HEADER_AUTHORIZE + struct.pack(">HH", 1, 50) + b"pk_demo"), "malformed_frame",
        "field length 50 with 7 bytes left"),
    bad("i64_wrong_length", raw(HEADER_AUTHORIZE + field(1, b"k") + field(2, b"m") + field(4, b"\x00\x01") + field(7, b"r")),
        "malformed_field", "estimate_micros with 2 bytes"),
    bad("missing_required_model", raw(HEADER_AUTHORIZE + field(1, b"k") + field(4, struct.pack(">q", 1)) + field(7, b"r")),
        "malformed_field", "authorize without model"),
    bad("duplicate_field", raw(HEADER_AUTHORIZE + field(1, b"k") + field(2, b"m") + field(2, b"m") + field(4, struct.pack(">q", 1)) + field(7, b"r")),
        "malformed_field", "model twice"),
    bad("invalid_utf8", raw(HEADER_AUTHORIZE + field(1, b"k") + field(2, b"\xff\xfe") + field(4, struct.pack(">q", 1)) + field(7, b"r")),
        "malformed_field", "model is not UTF-8"),
    bad("only_input_tokens", raw(HEADER_AUTHORIZE + field(1, b"k") + field(2, b"m") + field(5, struct.pack(">q", 1)) + field(7, b"r")),
        "malformed_field", "input_tokens without max_output_tokens"),
    bad("both_estimate_forms", raw(HEADER_AUTHORIZE + field(1, b"k") + field(2, b"m") + field(4, struct.pack(">q", 1))
                                   + field(5, struct.pack(">q", 1)) + field(6, struct.pack(">q", 1)) + field(7, b"r")),
        "malformed_field", "estimate_micros together with token counts"),
    bad("frame_too_large", struct.pack(">I", 65537), "frame_too_large", "a length prefix above the default frameBytesMax, with no payload"),
]

vectors.append(bad("bool_not_0_or_1_in_reply", raw(struct.pack(">BBQ", 1, 0x83, 1) + field(1, b"rsv_x") + field(2, b"released") + field(3, b"\x02")),
                   "malformed_field", "a client decoding a release reply must refuse replayed=2", direction="to_client"))

out = {"protocol_version": 1, "generated_by": "clients/testdata/make_vectors.py", "vectors": vectors}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vectors.json")
with open(path, "w") as handle:
    json.dump(out, handle, indent=1)
    handle.write("\n")
print(f"wrote {len(vectors)} vectors to {path}")
