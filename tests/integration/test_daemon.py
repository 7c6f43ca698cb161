"""End-to-end tests of `purser serve`, driven by the reference Python client (clients/python).

Run: PURSER_BIN=.build/debug/purser python3 -m pytest tests/integration -q
"""
from __future__ import annotations

import json
import os
import random
import re
import signal
import struct
import threading
import time
import uuid

import pytest

from conftest import (
    MODEL, NEW_KEY_ID, NEW_SECRET, POLICY_PATH, SECRETS, UNKNOWN_SECRET, make_bound_then_closed_socket,
    policy_text, policy_with_new_key, read_state, run_cli, scope_counter, secret, sha256_hex,
)
from purser_client import Client, ConnectionClosed, PurserError, protocol
from purser_client.protocol import encode, encode_field


def rid(prefix: str = "it") -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def error_of(frame: bytes) -> protocol.Message:
    assert frame is not None, "the server closed the connection without an error reply"
    message = protocol.decode(frame, role="client")
    assert message.type == "error", f"expected an error frame, got {message}"
    return message


def assert_closed(client: Client, what: str) -> None:
    rest = client.recv_frame(timeout=5.0)
    assert rest is None, f"{what}: the server sent more after a closing error: {rest.hex()}"
    assert not client.reset, f"{what}: the connection was reset instead of closed cleanly"


# --- 0. the test policy itself -----------------------------------------------------------------------


def test_policy_file_hashes_match_secrets_and_check_policy_accepts_it():
    text = policy_text()
    for key_id, key_secret in SECRETS.items():
        assert f"id: {key_id}\n" in text
        assert sha256_hex(key_secret) in text, key_id
        assert key_secret not in text
    result = run_cli("check-policy", POLICY_PATH)
    assert result.returncode == 0, result.stdout + result.stderr


# --- 1. every deny reason ----------------------------------------------------------------------------


def assert_deny(result, reason: str, status: int) -> None:
    assert not result.allowed, f"expected a {reason} deny, got an allow: {result}"
    assert result.reason == reason, result
    assert result.status == status, result
    assert result.reservation is None, result


def test_deny_reasons_end_to_end(daemon):
    with daemon.client() as client:
        ok = client.authorize(secret("k_main"), MODEL, estimate_micros=1000)
        assert ok.allowed and ok.tenant == "main" and ok.key_id == "k_main" and ok.reservation, ok

        assert_deny(client.authorize(UNKNOWN_SECRET, MODEL, estimate_micros=1000), "unknown_key", 401)
        assert_deny(client.authorize(secret("k_disabled"), MODEL, estimate_micros=1000), "key_disabled", 401)
        assert_deny(client.authorize(secret("k_expired"), MODEL, estimate_micros=1000), "key_expired", 401)
        assert_deny(client.authorize(secret("k_narrow"), "cheap-model", estimate_micros=1000), "model_not_allowed", 403)
        assert client.authorize(secret("k_narrow"), MODEL, estimate_micros=1000).allowed

        # rpm: 2 -> a burst of two, then rate_limited with a positive retry_after_ms.
        for _ in range(2):
            allowed = client.authorize(secret("k_rate"), MODEL, estimate_micros=10)
            assert allowed.allowed, allowed
            client.release(allowed.reservation)
        limited = client.authorize(secret("k_rate"), MODEL, estimate_micros=10)
        assert_deny(limited, "rate_limited", 429)
        assert limited.retry_after_ms is not None and limited.retry_after_ms > 0, limited
        assert limited.scope == "key:k_rate" and limited.detail == "rpm", limited

        # max_inflight: 1 with one open reservation.
        first = client.authorize(secret("k_conc"), MODEL, estimate_micros=10)
        assert first.allowed, first
        busy = client.authorize(secret("k_conc"), MODEL, estimate_micros=10)
        assert_deny(busy, "concurrency_limited", 429)
        assert busy.scope == "key:k_conc" and busy.detail == "max_inflight", busy
        assert client.release(first.reservation).state == "released"
        assert client.authorize(secret("k_conc"), MODEL, estimate_micros=10).allowed

        # total cap 100,000: 60,000 fits, another 60,000 does not.
        assert client.authorize(secret("k_budget"), MODEL, estimate_micros=60_000).allowed
        over = client.authorize(secret("k_budget"), MODEL, estimate_micros=60_000)
        assert_deny(over, "budget_exceeded", 402)
        assert (over.scope, over.period, over.cap_micros, over.remaining_micros) == ("key:k_budget", "total", 100_000, 40_000), over

        # prepaid tenant without credit, then a credit over the admin socket.
        poor = client.authorize(secret("k_prepaid"), MODEL, estimate_micros=5_000)
        assert_deny(poor, "insufficient_balance", 402)
        assert poor.scope == "balance:prepaid" and poor.cap_micros == 0 and poor.remaining_micros == 0, poor
        with daemon.admin() as admin:
            credited = admin.credit("prepaid", 1_000_000, "integration test", request_id=rid("credit"))
        assert credited.tenant == "prepaid" and credited.balance_micros == 1_000_000 and credited.credited_micros == 1_000_000
        paid = client.authorize(secret("k_prepaid"), MODEL, estimate_micros=5_000)
        assert paid.allowed, paid

        bad = client.authorize(secret("k_main"), MODEL, estimate_micros=-1)
        assert_deny(bad, "bad_request", 400)
        assert bad.detail, bad


# --- 2. admin messages on the data socket ----------------------------------------------------------


@pytest.mark.parametrize("request_type", ["reload", "credit", "status", "usage"])
def test_admin_messages_refused_on_data_socket(daemon, request_type):
    with daemon.client() as client:
        with pytest.raises(PurserError) as caught:
            if request_type == "credit":
                client.credit("prepaid", 1_000, "should be refused", request_id=rid())
            elif request_type == "usage":
                client.usage("2026-01-01", "2026-01-31")
            else:
                getattr(client, request_type)()
        assert caught.value.code == "admin_only", caught.value
        assert client.ping().policy_version  # the connection stays usable
        assert client.authorize(secret("k_main"), MODEL, estimate_micros=1).allowed
    with daemon.admin() as admin:  # and the refused credit did nothing
        assert admin.status().server_version
    with daemon.client() as client:
        assert_deny(client.authorize(secret("k_prepaid"), MODEL, estimate_micros=1), "insufficient_balance", 402)


# --- 3. concurrency against one cap -----------------------------------------------------------------


def test_64_connections_against_one_tenant_cap(daemon):
    connections, attempts, estimate, cap = 64, 3, 30_000, 1_000_000
    barrier = threading.Barrier(connections)
    results, errors = [], []
    lock = threading.Lock()

    def worker():
        try:
            with daemon.client(timeout=30) as client:
                barrier.wait(30)
                for _ in range(attempts):
                    result = client.authorize(secret("k_capped"), MODEL, estimate_micros=estimate)
                    with lock:
                        results.append(result)
        except BaseException as error:  # noqa: BLE001
            with lock:
                errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "workers still running after 60 s"
    assert not errors, errors[:3]
    assert len(results) == connections * attempts
    allowed = [r for r in results if r.allowed]
    denied = [r for r in results if not r.allowed]
    assert len(allowed) == cap // estimate == 33
    assert len({r.reservation for r in allowed}) == 33
    assert all(r.reason == "budget_exceeded" and r.scope == "tenant:capped" for r in denied), denied[:3]
    state = daemon.state()
    reserved = scope_counter(state, "tenant:capped", "month", "reserved_micros")
    spent = scope_counter(state, "tenant:capped", "month", "spent_micros")
    assert reserved + spent <= cap
    assert reserved == 33 * estimate and spent == 0


# --- 4. kill -9 under load ---------------------------------------------------------------------------


@pytest.mark.parametrize("store_flags", [[], ["--no-write-map"], ["--no-journal"]], ids=["write-map", "pwrite", "no-journal"])
def test_kill9_under_load_keeps_every_acknowledged_settle(make_daemon, store_flags):
    daemon = make_daemon(extra_args=store_flags).start()
    keys = ["k_crash1", "k_crash2", "k_crash3", "k_crash4"]
    threads_per_key = 2
    lock = threading.Lock()
    acked = {k: [] for k in keys}      # (reservation, cost) of acknowledged settles
    unacked = {k: [] for k in keys}    # settles sent (or being sent) without an answer
    stop = threading.Event()
    worker_errors = []

    def worker(key_id: str, seed: int):
        try:
            work(key_id, seed)
        except BaseException as error:  # noqa: BLE001
            worker_errors.append(error)

    def work(key_id: str, seed: int):
        rng = random.Random(seed)
        with daemon.client(timeout=10) as client:
            while not stop.is_set():
                try:
                    allowed = client.authorize(secret(key_id), MODEL, estimate_micros=10_000)
                except (OSError, ConnectionClosed, TimeoutError, PurserError):
                    return
                assert allowed.allowed, allowed
                cost = rng.randint(1, 9_999)
                try:
                    answer = client.settle(allowed.reservation, cost_micros=cost)
                except (OSError, ConnectionClosed, TimeoutError, PurserError):
                    with lock:
                        unacked[key_id].append((allowed.reservation, cost))
                    return
                assert answer.cost_micros == cost and not answer.replayed, answer
                with lock:
                    acked[key_id].append((allowed.reservation, cost))

    threads = [threading.Thread(target=worker, args=(k, i * 100 + j), daemon=True)
               for i, k in enumerate(keys) for j in range(threads_per_key)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and sum(len(v) for v in acked.values()) < 200:
        time.sleep(0.05)
    time.sleep(0.3)
    daemon.kill9()
    stop.set()
    for thread in threads:
        thread.join(15)
    assert not any(thread.is_alive() for thread in threads)
    assert not worker_errors, worker_errors
    total_acked = sum(len(v) for v in acked.values())
    assert total_acked > 0, "no settle was acknowledged before the kill (is the daemon too slow?)"
    print(f"kill -9 after {total_acked} acknowledged and {sum(len(v) for v in unacked.values())} unacknowledged settles")

    def spent_of(state, key_id):
        return scope_counter(state, f"key:{key_id}", "total", "spent_micros")

    # With the daemon dead, straight from LMDB.
    state = read_state(daemon.data_dir)
    for key_id in keys:
        low = sum(cost for _, cost in acked[key_id])
        high = low + sum(cost for _, cost in unacked[key_id])
        spent = spent_of(state, key_id)
        assert low <= spent <= high, (
            f"{key_id}: spent {spent} outside [{low}, {high}] "
            f"({len(acked[key_id])} acknowledged, {len(unacked[key_id])} unacknowledged settles)")

    # Restart: a retried acknowledged settle is replayed and charges nothing; retrying every
    # unacknowledged settle applies each exactly once.
    daemon.start()
    with daemon.client() as client:
        for key_id in keys:
            if acked[key_id]:
                reservation, cost = acked[key_id][-1]
                again = client.settle(reservation, cost_micros=cost)
                assert again.replayed is True and again.cost_micros == cost, again
            for reservation, cost in unacked[key_id]:
                again = client.settle(reservation, cost_micros=cost)
                assert again.cost_micros == cost, again
    assert daemon.stop() == 0
    state = read_state(daemon.data_dir)
    for key_id in keys:
        expected = sum(c for _, c in acked[key_id]) + sum(c for _, c in unacked[key_id])
        assert spent_of(state, key_id) == expected, key_id
        # Only an authorize whose answer the kill cut off can still hold a reservation: at most one
        # per thread.
        assert scope_counter(state, f"key:{key_id}", "total", "reserved_micros") <= threads_per_key * 10_000, key_id


# --- 5. malformed frames -----------------------------------------------------------------------------


AUTH_HEADER = struct.pack(">BBQ", 1, 0x01, 9)
MALFORMED = [
    ("truncated", struct.pack(">I", 100) + bytes(range(20)), True, "malformed_frame"),
    ("oversized", struct.pack(">I", 0x7FFFFFFF), False, "frame_too_large"),
    ("unknown_type", protocol.frame(struct.pack(">BBQ", 1, 0x55, 3)), False, "unknown_type"),
    ("bad_i64", protocol.frame(AUTH_HEADER + encode_field(1, SECRETS["k_main"].encode()) + encode_field(2, MODEL.encode())
                               + encode_field(4, b"\x00\x01") + encode_field(7, b"r-bad-i64")), False, "malformed_field"),
]


@pytest.mark.parametrize("name, data, shut_write, code", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_frame_gets_error_then_close(daemon, name, data, shut_write, code):
    with daemon.client() as long_lived:
        assert long_lived.ping()
        with daemon.client(timeout=10) as bad:
            bad.send_raw(data)
            if shut_write:
                bad.shutdown_write()
            message = error_of(bad.recv_frame())
            assert message.fields["code"] == code, message
            assert_closed(bad, name)
        assert long_lived.ping().server_version
        assert long_lived.authorize(secret("k_main"), MODEL, estimate_micros=5).allowed
    with daemon.client() as fresh:
        assert fresh.authorize(secret("k_main"), MODEL, estimate_micros=5).allowed


# --- 6. reload ---------------------------------------------------------------------------------------


def write_policy(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


INVALID_ADDITION = "bogus_top_level_field: 1\n"


def invalid_policy_text():
    """The test policy with an unknown top-level field; returns (text, the line number of the problem)."""
    lines = policy_text().splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.startswith("version: 1"))
    lines.insert(index + 1, INVALID_ADDITION)
    return "".join(lines), index + 2


def test_sighup_reload_invalid_keeps_old_policy_then_valid_takes_effect(daemon):
    with daemon.admin() as admin:
        before = admin.status()
    assert before.policy_version and before.keys == len(SECRETS)

    text, _line = invalid_policy_text()
    write_policy(daemon.policy_path, text)
    daemon.signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "bogus_top_level_field" not in daemon.log_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "bogus_top_level_field" in daemon.log_text(), "SIGHUP with an invalid policy logged no problem"
    assert re.search(r"policy\.yaml:\d+:\d+: ", daemon.log_text()), "the logged problem has no FILE:LINE:COLUMN"
    assert daemon.running(), "the daemon died on SIGHUP with an invalid policy"
    with daemon.client() as client:
        assert client.authorize(secret("k_main"), MODEL, estimate_micros=1).allowed
        assert_deny(client.authorize(NEW_SECRET, MODEL, estimate_micros=1), "unknown_key", 401)
    with daemon.admin() as admin:
        assert admin.status().policy_version == before.policy_version

    write_policy(daemon.policy_path, policy_with_new_key())
    daemon.signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    result = None
    with daemon.client() as client:
        while time.monotonic() < deadline:
            result = client.authorize(NEW_SECRET, MODEL, estimate_micros=1)
            if result.allowed:
                break
            time.sleep(0.1)
        assert result is not None and result.allowed and result.key_id == NEW_KEY_ID, result
        assert client.authorize(secret("k_main"), MODEL, estimate_micros=1).allowed
    with daemon.admin() as admin:
        after = admin.status()
    assert after.policy_version != before.policy_version
    assert after.keys == len(SECRETS) + 1
    assert after.policy_version == sha256_hex_file(daemon.policy_path)


def sha256_hex_file(path: str) -> str:
    import hashlib
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def test_admin_reload_invalid_returns_policy_invalid_with_positions(daemon):
    with daemon.admin() as admin:
        before = admin.status().policy_version
        text, line = invalid_policy_text()
        write_policy(daemon.policy_path, text)
        with pytest.raises(PurserError) as caught:
            admin.reload()
        assert caught.value.code == "policy_invalid", caught.value
        message = caught.value.message
        positions = re.findall(r"^(.*?):(\d+):(\d+): ", message, flags=re.MULTILINE)
        assert positions, f"no FILE:LINE:COLUMN: in {message!r}"
        assert any(path.endswith("policy.yaml") and int(l) == line for path, l, _c in positions), message
        assert "bogus_top_level_field" in message
        # The connection stays open and the old policy stays in force.
        assert admin.status().policy_version == before
        write_policy(daemon.policy_path, policy_with_new_key())
        reloaded = admin.reload()
        assert reloaded.policy_version != before and reloaded.keys == len(SECRETS) + 1
    with daemon.client() as client:
        assert client.authorize(NEW_SECRET, MODEL, estimate_micros=1).allowed


# --- 7. SIGTERM with requests in flight ----------------------------------------------------------------


def test_sigterm_with_requests_in_flight(daemon):
    connections, settles_each, authorizes_each, chunk = 8, 30, 400, 20
    clients = [daemon.client(timeout=15) for _ in range(connections)]
    sent = []  # per connection: {correlation id: request type}
    chunks = []  # per connection: frames to write, in chunks of whole frames
    for client in clients:
        # Reservations to settle, made before the storm.
        reservations = [client.authorize(secret("k_main"), MODEL, estimate_micros=100).reservation
                        for _ in range(settles_each)]
        frames, ids = [], {}
        for reservation in reservations:
            cid = client.next_correlation_id()
            ids[cid] = "settle"
            frames.append(encode("settle", cid, {"reservation": reservation, "cost_micros": 50}))
        for _ in range(authorizes_each):
            cid = client.next_correlation_id()
            ids[cid] = "authorize"
            frames.append(encode("authorize", cid, {"key": secret("k_main"), "model": MODEL,
                                                    "estimate_micros": 100, "request_id": rid("term")}))
        random.shuffle(frames)
        sent.append(ids)
        chunks.append([b"".join(frames[i:i + chunk]) for i in range(0, len(frames), chunk)])

    started = threading.Barrier(connections + 1)

    def writer(client, parts):
        started.wait(10)
        for part in parts:
            try:
                client.send_raw(part)
            except OSError:
                return  # the daemon closed the connection: the rest is never sent
            time.sleep(0.002)

    writers = [threading.Thread(target=writer, args=(c, p), daemon=True) for c, p in zip(clients, chunks)]
    try:
        for thread in writers:
            thread.start()
        started.wait(10)
        time.sleep(0.02)  # some requests answered, some in flight, some not yet written
        daemon.signal(signal.SIGTERM)
        outcomes = {"reply": 0, "shutting_down": 0, "unanswered": 0, "resets": 0}
        for client, ids in zip(clients, sent):
            seen = set()
            while True:
                try:
                    # A reset after whole frames counts as a close at a frame boundary: Linux reports
                    # ECONNRESET when the daemon closes with requests it never read (backpressure).
                    payload = client.recv_payload(timeout=12)
                except protocol.ProtocolError as error:
                    pytest.fail(f"partial frame at shutdown: {error}")
                except TimeoutError:
                    pytest.fail(f"after SIGTERM a connection was neither answered nor closed within 12 s "
                                f"({len(seen)} of {len(ids)} requests answered)")
                if payload is None:
                    break  # closed at a frame boundary
                message = protocol.decode_payload(payload, role="client")
                assert message.correlation_id in ids, f"reply to an unknown correlation id: {message}"
                assert message.correlation_id not in seen, f"two replies to one request: {message}"
                seen.add(message.correlation_id)
                if message.type == "error":
                    assert message.fields["code"] == "shutting_down", message
                    outcomes["shutting_down"] += 1
                else:
                    expected = protocol.REPLY_OF[ids[message.correlation_id]]
                    assert message.type == expected, message
                    outcomes["reply"] += 1
            outcomes["unanswered"] += len(ids) - len(seen)
            outcomes["resets"] += int(client.reset)
        code = daemon.wait_exit(10)
        assert code is not None, "the daemon did not exit within 10 s of SIGTERM"
        assert code == 0, f"exit code {code}"
        assert not os.path.exists(daemon.socket_path), "data socket file left behind"
        assert not os.path.exists(daemon.admin_socket_path), "admin socket file left behind"
        print(f"SIGTERM outcomes: {outcomes}")
    finally:
        for thread in writers:
            thread.join(10)
        for client in clients:
            client.close()


# --- 8. one daemon per socket path; stale sockets replaced ------------------------------------------


def test_second_serve_on_same_socket_fails_and_first_keeps_serving(make_daemon, workdir):
    first = make_daemon().start()
    second = make_daemon(subdir="b")
    second.socket_path = first.socket_path  # same data socket, own admin socket and data dir
    second.start(wait=False)
    code = second.wait_exit(10)
    assert code is not None, "the second serve is still running after 10 s"
    assert code != 0
    output = second.log_text().split("\n", 1)[1] if "\n" in second.log_text() else ""
    assert output.strip(), "the second serve exited without saying why"
    assert (first.socket_path in output or re.search(r"already|in use|running|listening", output, re.I)), output
    assert os.path.exists(first.socket_path), "the second serve removed the first one's socket file"
    with first.client() as client:
        assert client.ping()
        assert client.authorize(secret("k_main"), MODEL, estimate_micros=1).allowed


def test_stale_socket_file_is_replaced(make_daemon):
    daemon = make_daemon()
    make_bound_then_closed_socket(daemon.socket_path)
    make_bound_then_closed_socket(daemon.admin_socket_path)
    daemon.start()
    with daemon.client() as client:
        assert client.authorize(secret("k_main"), MODEL, estimate_micros=1).allowed
    with daemon.admin() as admin:
        assert admin.status().server_version


# --- 9. idempotency --------------------------------------------------------------------------------------


def test_authorize_idempotent_by_request_id(daemon):
    request_id = rid("idem")
    with daemon.client() as client:
        first = client.authorize(secret("k_main"), MODEL, estimate_micros=777, request_id=request_id)
        assert first.allowed and first.replayed is False, first
    with daemon.client() as other:  # a retry over a new connection
        second = other.authorize(secret("k_main"), MODEL, estimate_micros=777, request_id=request_id)
    assert second.allowed and second.replayed is True, second
    assert second.reservation == first.reservation
    assert second.estimate_micros == first.estimate_micros == 777
    state = daemon.state()
    assert scope_counter(state, "key:k_main", "total", "reserved_micros") == 777
    with daemon.client() as client:
        settled = client.settle(first.reservation, cost_micros=500)
        assert settled.replayed is False and settled.cost_micros == 500
        again = client.settle(first.reservation, cost_micros=500)
        assert again.replayed is True and again.cost_micros == 500
        third = client.authorize(secret("k_main"), MODEL, estimate_micros=777, request_id=request_id)
        assert third.reservation == first.reservation and third.replayed is True
    state = daemon.state()
    assert scope_counter(state, "key:k_main", "total", "spent_micros") == 500
    assert scope_counter(state, "key:k_main", "total", "reserved_micros") == 0


# --- 10. secrets never logged -------------------------------------------------------------------------


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_secrets_never_appear_in_logs(make_daemon, log_format):
    # The most verbose level, so that every per-request log line is included.
    daemon = make_daemon(log_format=log_format, extra_args=["--log-level", "trace"]).start()
    used = [UNKNOWN_SECRET]
    with daemon.client() as client:
        for key_id in ["k_main", "k_disabled", "k_expired", "k_narrow", "k_budget", "k_prepaid"]:
            used.append(secret(key_id))
            result = client.authorize(secret(key_id), MODEL, estimate_micros=1_000, tags=["t1"])
            if result.allowed:
                client.settle(result.reservation, cost_micros=900)
        client.authorize(UNKNOWN_SECRET, MODEL, estimate_micros=1_000)
        client.authorize(secret("k_main"), MODEL, estimate_micros=-5)  # bad_request
    # A malformed request carrying a secret, which the server refuses.
    with daemon.client() as bad:
        bad.send_raw(protocol.frame(AUTH_HEADER + encode_field(1, SECRETS["k_rate"].encode()) + encode_field(4, b"\x00")))
        bad.recv_frame()
    used.append(SECRETS["k_rate"])
    with daemon.admin() as admin:
        admin.reload()
    assert daemon.stop() == 0
    log = daemon.log_text()
    print(f"{log.count(chr(10))} log lines")
    assert log.count("\n") >= 3
    for value in used:
        assert value not in log, f"a secret appears in the {log_format} log"
        # Nor a recognisable fragment of it.
        assert value.split("-")[-1] not in log, f"part of a secret appears in the {log_format} log"


# --- 11. (extra) the CLI clients -----------------------------------------------------------------------


def test_cli_authorize_settle_release_status(daemon):
    sock, admin = daemon.socket_path, daemon.admin_socket_path
    allow = run_cli("authorize", "--socket", sock, "--key", secret("k_main"), "--model", MODEL,
                    "--estimate-micros", "2500", "--tag", "cli", "--json")
    assert allow.returncode == 0, allow.stdout + allow.stderr
    body = json.loads(allow.stdout)
    assert body["allowed"] is True and body["tenant"] == "main" and body["key_id"] == "k_main" and body["reservation"]
    assert "cli" in body["tags"], body
    settle = run_cli("settle", "--socket", sock, "--reservation", body["reservation"], "--cost-micros", "2000", "--json")
    assert settle.returncode == 0, settle.stdout + settle.stderr
    assert json.loads(settle.stdout)["cost_micros"] == 2000

    deny = run_cli("authorize", "--socket", sock, "--key", secret("k_budget"), "--model", MODEL,
                   "--estimate-micros", "200000", "--json")
    assert deny.returncode == 3, deny.stdout + deny.stderr
    body = json.loads(deny.stdout)
    assert body["allowed"] is False and body["reason"] == "budget_exceeded" and body["status"] == 402 and body["scope"] == "key:k_budget"

    tokens = run_cli("authorize", "--socket", sock, "--key", secret("k_main"), "--model", MODEL,
                     "--input-tokens", "1000", "--max-output-tokens", "200", "--json")
    assert tokens.returncode == 0, tokens.stdout + tokens.stderr
    reservation = json.loads(tokens.stdout)["reservation"]
    released = run_cli("release", "--socket", sock, "--reservation", reservation, "--json")
    assert released.returncode == 0 and json.loads(released.stdout)["state"] == "released", released.stdout + released.stderr

    credit = run_cli("credit", "--admin-socket", admin, "--tenant", "prepaid", "--micros", "5000", "--memo", "cli test")
    assert credit.returncode == 0, credit.stdout + credit.stderr
    status = run_cli("status", "--admin-socket", admin, "--json")
    assert status.returncode == 0 and json.loads(status.stdout)["keys"] == len(SECRETS), status.stdout + status.stderr
    counters = json.loads(status.stdout)
    # Every group commit is counted once, in the bucket of its size; five requests, one at a time,
    # made at least five commits (the sweeper and the credit add their own).
    histogram = counters["batch_size_histogram"]
    assert len(histogram) == 16 and sum(histogram) == counters["batches_committed"] >= 5, counters
    assert histogram[0] >= 5, counters
    reload = run_cli("reload", "--admin-socket", admin, "--json")
    assert reload.returncode == 0, reload.stdout + reload.stderr

    error = run_cli("authorize", "--socket", daemon.dir + "/nope.sock", "--key", "x", "--model", MODEL, "--estimate-micros", "1")
    assert error.returncode == 1
    state = daemon.state()
    assert scope_counter(state, "key:k_main", "total", "spent_micros") == 2000
    assert state["scopes"]["tenant:prepaid"]["balance_micros"] == 5000, state["scopes"]["tenant:prepaid"]
    for value in SECRETS.values():
        assert value not in daemon.log_text()


# --- 12. (extra) limits and socket modes ----------------------------------------------------------------


def test_socket_file_modes(make_daemon):
    daemon = make_daemon(extra_args=["--socket-mode", "0660"]).start()
    assert os.stat(daemon.socket_path).st_mode & 0o777 == 0o660
    assert os.stat(daemon.admin_socket_path).st_mode & 0o777 == 0o600


def test_frame_bytes_max_flag(make_daemon):
    daemon = make_daemon(extra_args=["--frame-bytes-max", "1024"]).start()
    with daemon.client() as client:
        big = encode("authorize", 1, {"key": secret("k_main"), "model": MODEL, "estimate_micros": 1,
                                      "request_id": rid(), "tag": ["t" * 100] * 12})
        assert len(big) - 4 > 1024
        client.send_raw(big[:4])  # the prefix alone must be refused
        message = error_of(client.recv_frame())
        assert message.fields["code"] == "frame_too_large", message
        assert_closed(client, "frame above --frame-bytes-max")
    with daemon.client() as client:
        assert client.authorize(secret("k_main"), MODEL, estimate_micros=1).allowed


def test_connections_max_flag(make_daemon):
    daemon = make_daemon(extra_args=["--connections-max", "2"]).start()
    time.sleep(0.2)  # let the readiness probe's connection close
    first, second = daemon.client(), daemon.client()
    try:
        assert first.ping() and second.ping()
        with daemon.client() as third:
            message = error_of(third.recv_frame(timeout=5))
            assert message.fields["code"] == "too_many_connections", message
            assert_closed(third, "connection above --connections-max")
        assert first.ping() and second.ping()
    finally:
        first.close()
        second.close()
    deadline = time.monotonic() + 5
    while True:  # the slots free up once the two close
        try:
            with daemon.client() as again:
                assert again.ping()
            break
        except (PurserError, ConnectionClosed):
            assert time.monotonic() < deadline, "connection slots were not freed after the clients closed"
            time.sleep(0.1)


def test_pipelined_replies_match_and_backpressure_holds(daemon):
    with daemon.client(timeout=20) as client:
        requests = [("authorize", {"key": secret("k_main"), "model": MODEL, "estimate_micros": 10, "request_id": rid("pl")})
                    for _ in range(500)] + [("ping",)]
        results = client.pipeline(requests)
        assert all(r.allowed for r in results[:-1]), [r for r in results[:-1] if not r.allowed][:3]
        assert len({r.reservation for r in results[:-1]}) == 500
        settles = client.pipeline([("settle", {"reservation": r.reservation, "cost_micros": 7}) for r in results[:-1]])
        assert all(isinstance(s, object) and getattr(s, "cost_micros", None) == 7 for s in settles), settles[:3]
    state = daemon.state()
    assert scope_counter(state, "key:k_main", "total", "spent_micros") == 3500
    assert scope_counter(state, "key:k_main", "total", "reserved_micros") == 0


# --- 13. (extra) usage over the admin socket -------------------------------------------------------------


def test_admin_usage_report_after_settles(daemon):
    import datetime
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    with daemon.client() as client:
        for cost in (100, 200, 300):
            allowed = client.authorize(secret("k_main"), MODEL, estimate_micros=1_000, tags=["usage-test"])
            assert allowed.allowed, allowed
            assert client.settle(allowed.reservation, cost_micros=cost).cost_micros == cost
    with daemon.admin() as admin:
        deadline = time.monotonic() + 15
        while True:  # the ledger is fed from the outbox asynchronously
            usage = admin.usage(today, today, tenant="main", by=["model", "day"])
            summary = usage.report.get("summary", {})
            if summary.get("requests") == 3 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert summary.get("requests") == 3 and summary.get("cost_micros") == 600, usage.json[:2000]
        assert usage.report.get("by_model") and usage.report["by_model"][0]["model"] == MODEL, usage.json[:2000]
        with pytest.raises(PurserError) as caught:
            admin.usage("2026-13-45", today)
        assert caught.value.code == "bad_request", caught.value
        assert admin.ping()  # bad_request leaves the connection open


# --- 14. (extra) errors that keep the connection open, and the reservation lifecycle ---------------------


def test_errors_that_keep_the_connection_open(daemon):
    with daemon.client() as client:
        for call in (lambda: client.settle("rsv_never_issued", cost_micros=1), lambda: client.release("rsv_never_issued")):
            with pytest.raises(PurserError) as caught:
                call()
            assert caught.value.code == "unknown_reservation", caught.value
            assert client.ping()
        allowed = client.authorize(secret("k_main"), MODEL, estimate_micros=1_000)
        with pytest.raises(PurserError) as caught:
            client.settle(allowed.reservation, cost_micros=-5)
        assert caught.value.code == "bad_request", caught.value
        assert client.ping()
        with pytest.raises(PurserError) as caught:
            client.settle(allowed.reservation, cost_micros=5, status="exploded")
        assert caught.value.code == "bad_request", caught.value
        assert client.settle(allowed.reservation, cost_micros=5).cost_micros == 5  # nothing was charged before
    with daemon.admin() as admin:
        with pytest.raises(PurserError) as caught:
            admin.credit("no_such_tenant", 5, "x", request_id=rid())
        assert caught.value.code == "unknown_tenant", caught.value
        with pytest.raises(PurserError) as caught:
            admin.credit("prepaid", 0, "zero", request_id=rid())
        assert caught.value.code == "bad_request", caught.value
        assert admin.ping()
        request_id = rid("credit")
        first = admin.credit("prepaid", 700, "once", request_id=request_id)
        again = admin.credit("prepaid", 700, "once", request_id=request_id)
        assert (first.replayed, again.replayed) == (False, True), (first, again)
        assert first.balance_micros == again.balance_micros == 700
    assert daemon.state()["scopes"]["tenant:prepaid"]["balance_micros"] == 700


def test_unsupported_version_closes_the_connection(daemon):
    with daemon.client() as client:
        client.send_raw(protocol.frame(struct.pack(">BBQ", 2, 0x04, 1)))
        message = error_of(client.recv_frame())
        assert message.fields["code"] == "unsupported_version", message
        assert_closed(client, "unsupported version")


def test_release_settle_late_and_overdraft(daemon):
    with daemon.client() as client:
        a = client.authorize(secret("k_main"), MODEL, estimate_micros=1_000)
        settled = client.settle(a.reservation, cost_micros=900)
        released = client.release(a.reservation)
        assert (released.state, released.replayed) == ("settled", True), released

        b = client.authorize(secret("k_main"), MODEL, estimate_micros=1_000)
        assert client.release(b.reservation).state == "released"
        again = client.release(b.reservation)
        assert (again.state, again.replayed) == ("released", True), again
        late = client.settle(b.reservation, cost_micros=400)
        assert late.late is True and late.cost_micros == 400 and late.replayed is False, late

        # k_budget: total cap 100,000. Estimate 50,000, actual 150,000: charged in full, overdraft.
        c = client.authorize(secret("k_budget"), MODEL, estimate_micros=50_000)
        over = client.settle(c.reservation, cost_micros=150_000)
        assert over.cost_micros == 150_000 and over.overdraft_micros == 50_000, over
        denied = client.authorize(secret("k_budget"), MODEL, estimate_micros=1)
        assert_deny(denied, "budget_exceeded", 402)
        assert denied.remaining_micros == -50_000 and denied.scope == "key:k_budget", denied

        tokens = client.authorize(secret("k_main"), MODEL, input_tokens=1_000, max_output_tokens=200)
        assert tokens.allowed and tokens.estimate_micros == 3_250, tokens  # docs/policy.md's worked example
        by_tokens = client.settle(tokens.reservation, input_tokens=1_000, output_tokens=100)
        assert by_tokens.cost_micros == 2_250 and by_tokens.input_tokens == 1_000 and by_tokens.output_tokens == 100
    state = daemon.state()
    assert scope_counter(state, "key:k_main", "total", "spent_micros") == 900 + 400 + 2_250
    assert scope_counter(state, "key:k_main", "total", "reserved_micros") == 0
    assert scope_counter(state, "key:k_budget", "total", "spent_micros") == 150_000


def test_idle_connection_is_closed(make_daemon):
    daemon = make_daemon(extra_args=["--idle-timeout-seconds", "1"]).start()
    with daemon.client(timeout=10) as client:
        assert client.ping()
        started = time.monotonic()
        assert client.recv_frame(timeout=8) is None, "the server sent something to an idle connection"
        assert 0.5 <= time.monotonic() - started <= 5, time.monotonic() - started


def test_sigint_exits_cleanly_and_state_survives_restart(make_daemon):
    daemon = make_daemon().start()
    with daemon.client() as client:
        a = client.authorize(secret("k_main"), MODEL, estimate_micros=5_000)
        client.settle(a.reservation, cost_micros=4_321)
        open_reservation = client.authorize(secret("k_main"), MODEL, estimate_micros=2_000)
    daemon.signal(signal.SIGINT)
    assert daemon.wait_exit(10) == 0
    assert not os.path.exists(daemon.socket_path) and not os.path.exists(daemon.admin_socket_path)
    state = read_state(daemon.data_dir)
    assert scope_counter(state, "key:k_main", "total", "spent_micros") == 4_321
    assert scope_counter(state, "key:k_main", "total", "reserved_micros") == 2_000
    daemon.start()
    with daemon.client() as client:
        assert client.settle(a.reservation, cost_micros=4_321).replayed is True
        assert client.settle(open_reservation.reservation, cost_micros=1_000).replayed is False
    assert daemon.stop() == 0
    state = read_state(daemon.data_dir)
    assert scope_counter(state, "key:k_main", "total", "spent_micros") == 5_321
    assert scope_counter(state, "key:k_main", "total", "reserved_micros") == 0


def test_unsettled_reservation_expires(make_daemon, workdir):
    with open(os.path.join(workdir, "policy.yaml"), "w") as handle:
        handle.write(policy_text().replace("reservation_ttl: 10m", "reservation_ttl: 1s"))
    daemon = make_daemon().start()
    with daemon.client() as client:
        a = client.authorize(secret("k_conc"), MODEL, estimate_micros=3_000)
        assert a.allowed and a.expires_at_ms - int(time.time() * 1000) <= 1_500, a
        deadline = time.monotonic() + 10
        while True:  # max_inflight 1 frees up once the sweeper expires the reservation
            b = client.authorize(secret("k_conc"), MODEL, estimate_micros=3_000)
            if b.allowed or time.monotonic() > deadline:
                break
            assert b.reason == "concurrency_limited", b
            time.sleep(0.2)
        assert b.allowed, "the reservation never expired"
        assert client.release(a.reservation).state == "expired"
        late = client.settle(a.reservation, cost_micros=2_000)
        assert late.late is True and late.cost_micros == 2_000, late
    with daemon.admin() as admin:
        assert admin.status().expired_total >= 1
    state = daemon.state()
    assert scope_counter(state, "key:k_conc", "total", "spent_micros") == 2_000
    assert scope_counter(state, "key:k_conc", "total", "reserved_micros") == 3_000  # b is still open


# --- 15. (extra) every to_server invalid vector, sent to the real daemon ---------------------------------

with open(os.path.join(os.path.dirname(POLICY_PATH), "..", "..", "clients", "testdata", "vectors.json")) as _handle:
    _VECTORS = json.load(_handle)["vectors"]
SERVER_INVALID = [v for v in _VECTORS if not v["valid"] and v.get("direction", "to_server") == "to_server"]


@pytest.mark.parametrize("vector", SERVER_INVALID, ids=[v["name"] for v in SERVER_INVALID])
def test_invalid_vector_refused_by_daemon(daemon, vector):
    with daemon.client() as long_lived:
        with daemon.client(timeout=10) as bad:
            bad.send_raw(bytes.fromhex(vector["hex"]))
            message = error_of(bad.recv_frame())
            assert message.fields["code"] == vector["error"], message
            assert_closed(bad, vector["name"])
        assert long_lived.ping()


def test_small_inflight_limit_still_answers_a_long_pipeline(make_daemon):
    daemon = make_daemon(extra_args=["--inflight-per-connection-max", "2"]).start()
    with daemon.client(timeout=20) as client:
        results = client.pipeline([("authorize", {"key": secret("k_main"), "model": MODEL, "estimate_micros": 1,
                                                  "request_id": rid("bp")}) for _ in range(300)])
        assert all(r.allowed for r in results)
        assert len({r.reservation for r in results}) == 300


SERVER_VALID = [v for v in _VECTORS if v["valid"] and v.get("direction", "to_server") == "to_server"
                and v["message"]["type"] in protocol.REQUEST_TYPES]


@pytest.mark.parametrize("vector", SERVER_VALID, ids=[v["name"] for v in SERVER_VALID])
def test_valid_request_vector_answered_by_daemon(daemon, vector):
    """Each valid request vector, byte for byte, gets its reply type (admin ones: on the admin socket)."""
    message_type = vector["message"]["type"]
    path = daemon.admin_socket_path if message_type in protocol.ADMIN_TYPES else daemon.socket_path
    with Client(path, timeout=10) as client:
        reply = protocol.decode(client.request_raw(bytes.fromhex(vector["hex"])), role="client")
        assert reply.correlation_id == vector["message"]["correlation_id"]
        if reply.type == "error":
            # The vectors name tenants and reservations this policy does not have.
            assert reply.fields["code"] in {"unknown_tenant", "unknown_reservation", "bad_request"}, reply
        else:
            assert reply.type == protocol.REPLY_OF[message_type], reply
        assert client.ping()


@pytest.mark.parametrize("correlation_id", [0, 1, 2**63, 2**64 - 1])
def test_correlation_id_is_echoed_unchanged(daemon, correlation_id):
    with daemon.client() as client:
        client.send_raw(encode("ping", correlation_id))
        reply = protocol.decode(client.recv_frame(), role="client")
        assert reply.type == "pong" and reply.correlation_id == correlation_id
