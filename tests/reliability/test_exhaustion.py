"""Purser when a resource runs out: a full LMDB map, an unwritable SQLite ledger, 10,000 idle
connections, slow clients, and a pipelining flood beyond the in-flight limit.

Each test asserts what the daemon must do and prints what it measured (run with `-s` to see it).

    PURSER_BIN=.build/debug/purser python3 -m pytest -q -s tests/reliability/test_exhaustion.py
"""
from __future__ import annotations

import json
import os
import random
import resource
import selectors
import shutil
import socket
import struct
import threading
import time

import pytest

from reliability_support import (  # noqa: F401 - make_daemon and rel_workdir are fixtures
    MODEL, make_daemon, memory_kib, mib, percentile, policy_text, read_state, rel_workdir, run_cli,
    scope_counter, secret,
)
from purser_client import PurserError, protocol
from purser_client.client import SettleResult

LOAD_KEY = "k_load"


def reconcile_ok(daemon, when: str) -> dict:
    result = run_cli("reconcile", "--data", daemon.data_dir, "--json", timeout=60)
    assert result.returncode == 0, f"reconcile {when} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    report = json.loads(result.stdout)
    assert report["consistent"], report
    return report


def status_of(daemon):
    with daemon.admin(timeout=10) as admin:
        return admin.status()


def timed_authorizes(daemon, count: int, key: str = LOAD_KEY):
    """`count` sequential authorizes on a fresh connection (key k_load has no caps); latencies in ms."""
    latencies = []
    with daemon.client(timeout=10) as client:
        for _ in range(count):
            started = time.perf_counter()
            result = client.authorize(secret(key), MODEL, estimate_micros=100)
            latencies.append((time.perf_counter() - started) * 1000)
            assert result.allowed, result
    return latencies


def latency_text(latencies) -> str:
    return (f"p50 {percentile(latencies, 0.5):.2f} ms, p99 {percentile(latencies, 0.99):.2f} ms, "
            f"max {max(latencies):.2f} ms over {len(latencies)}")


# --- 1. LMDB map full --------------------------------------------------------------------------------


def fill_the_map(daemon, live: list, settled: list, pairs_max: int = 20_000, seconds: float = 60.0):
    """authorize+settle pairs until authorize answers `unavailable`. A settle that fails first
    (it needs more pages than an authorize) leaves its reservation live. Returns the deny."""
    deadline = time.monotonic() + seconds
    settle_failures = 0
    with daemon.client(timeout=10) as client:
        for pair in range(pairs_max):
            assert time.monotonic() < deadline, f"no unavailable after {pair} pairs in {seconds}s"
            result = client.authorize(secret(LOAD_KEY), MODEL, estimate_micros=1_000)
            if not result.allowed:
                return result, pair, settle_failures
            if result.reservation is None:
                return result, pair, settle_failures  # fail_open: allowed without a reservation
            cost = random.randint(1, 1_000)
            try:
                answer = client.settle(result.reservation, cost_micros=cost)
            except PurserError as error:
                assert error.code == "unavailable", error
                settle_failures += 1
                live.append(result.reservation)
                continue
            assert answer.cost_micros == cost and not answer.replayed, answer
            settled.append((result.reservation, cost))
    pytest.fail(f"no unavailable after {pairs_max} pairs")


def test_lmdb_map_full_fails_closed_then_recovers_with_a_larger_map(make_daemon):
    daemon = make_daemon(["--map-size-bytes", "131072"]).start()
    live, settled = [], []
    with daemon.client() as client:
        for _ in range(3):
            live.append(client.authorize(secret(LOAD_KEY), MODEL, estimate_micros=1_000).reservation)
    deny, pairs, settle_failures = fill_the_map(daemon, live, settled)
    print(f"\nmap full (131072 bytes) after {pairs} authorize+settle pairs ({len(settled)} settled, "
          f"{settle_failures} settles answered unavailable first): {deny.reason} {deny.status} {deny.detail!r}")
    assert not deny.allowed and deny.reason == "unavailable" and deny.status == 503, deny
    assert deny.reservation is None

    with daemon.client() as client:
        assert client.ping().server_version, "no pong at map full"
        with pytest.raises(PurserError) as caught:
            client.settle(live[0], cost_micros=5)
        assert caught.value.code == "unavailable", caught.value
        assert client.ping().server_version, "the connection did not stay open after unavailable"
        # Still full: how do further authorizes fare?
        outcomes = []
        for _ in range(20):
            again = client.authorize(secret(LOAD_KEY), MODEL, estimate_micros=1_000)
            outcomes.append("allowed" if again.allowed else again.reason)
            if again.allowed:
                live.append(again.reservation)
            time.sleep(0.02)
    print(f"at map full: settle of a live reservation -> unavailable; 20 more authorizes: "
          f"{ {o: outcomes.count(o) for o in set(outcomes)} }; status {status_of(daemon)}")
    assert set(outcomes) <= {"allowed", "unavailable"}, outcomes

    assert daemon.stop() == 0, f"SIGTERM at map full did not exit 0\n{daemon.log_tail()}"
    report = reconcile_ok(daemon, "at map full, daemon stopped")
    spent_before = scope_counter(read_state(daemon.data_dir), f"key:{LOAD_KEY}", "total", "spent_micros")
    assert spent_before == sum(cost for _, cost in settled), "acknowledged settles and the key's spend differ"
    print(f"reconcile at map full: {report['events_in_ledger']} events in the ledger, {report['events_pending']} pending, "
          f"{report['open_reservations']} reservations open")

    daemon.extra_args = ["--map-size-bytes", str(64 * 1024 * 1024)]
    daemon.start()
    extra = 0
    with daemon.client() as client:
        fresh = client.authorize(secret(LOAD_KEY), MODEL, estimate_micros=1_000)
        assert fresh.allowed and fresh.reservation, fresh
        assert client.settle(fresh.reservation, cost_micros=11).cost_micros == 11
        extra += 11
        for reservation in live:  # every reservation left live at map full settles now
            answer = client.settle(reservation, cost_micros=3)
            assert isinstance(answer, SettleResult) and answer.cost_micros == 3 and not answer.replayed, answer
            extra += 3
    assert daemon.stop() == 0
    reconcile_ok(daemon, "after restart with a 64 MiB map")
    spent = scope_counter(read_state(daemon.data_dir), f"key:{LOAD_KEY}", "total", "spent_micros")
    assert spent == spent_before + extra
    print(f"restart with a 64 MiB map: authorize and settle work, the {len(live)} live reservations settled, reconcile ok")


def test_lmdb_map_full_with_fail_open_allows_without_reservation(make_daemon):
    text = policy_text().replace("on_store_error: fail_closed", "on_store_error: fail_open")
    assert "on_store_error: fail_open" in text
    daemon = make_daemon(["--map-size-bytes", "131072"], policy=text).start()
    live, settled = [], []
    answer, pairs, settle_failures = fill_the_map(daemon, live, settled)
    print(f"\nfail_open map full after {pairs} pairs ({settle_failures} settles unavailable first): {answer}")
    assert answer.allowed is True, answer
    assert answer.reservation is None, answer
    assert answer.detail and "fail_open" in answer.detail, answer
    with daemon.client() as client:
        assert client.ping().server_version
    assert daemon.stop() == 0
    reconcile_ok(daemon, "fail_open at map full, daemon stopped")


# --- 2. SQLite ledger unwritable ----------------------------------------------------------------------


def test_unwritable_ledger_lags_then_catches_up(make_daemon):
    daemon = make_daemon()
    ledger_path = os.path.join(daemon.data_dir, "ledger.sqlite3")
    os.makedirs(ledger_path)  # a directory where the database should be: unusable even for root
    daemon.start()
    costs = []
    with daemon.client() as client:
        for i in range(200):
            allowed = client.authorize(secret(LOAD_KEY), MODEL, estimate_micros=10_000)
            assert allowed.allowed, allowed
            cost = random.randint(1, 10_000)
            answer = client.settle(allowed.reservation, cost_micros=cost)
            assert answer.cost_micros == cost and not answer.replayed, answer
            costs.append(cost)
    first = status_of(daemon)
    time.sleep(1.5)
    second = status_of(daemon)
    print(f"\nledger unwritable: 200 settles acknowledged; outbox_depth {first.outbox_depth} -> {second.outbox_depth}, "
          f"ledger_lag_ms {first.ledger_lag_ms} -> {second.ledger_lag_ms}, high water {second.ledger_high_water}")
    assert second.outbox_depth >= 200, second
    assert second.ledger_lag_ms > first.ledger_lag_ms + 1_000, (first, second)

    shutil.rmtree(ledger_path)
    started = time.monotonic()
    deadline = started + 20
    status = second
    while time.monotonic() < deadline:
        status = status_of(daemon)
        if status.outbox_depth == 0 and status.ledger_lag_ms == 0:
            break
        time.sleep(0.05)
    caught_up = time.monotonic() - started
    assert status.outbox_depth == 0 and status.ledger_lag_ms == 0, f"the ledger did not catch up in 20 s: {status}"
    print(f"directory removed: caught up in {caught_up * 1000:.0f} ms (high water {status.ledger_high_water})")
    reconcile_ok(daemon, "after the ledger caught up, daemon running")
    month = time.strftime("%Y-%m", time.gmtime())
    usage = json.loads(run_cli("usage", "--data", daemon.data_dir, "--tenant", "load", "--month", month,
                               "--format", "json", check=True).stdout)
    assert usage["summary"]["requests"] == len(costs), usage["summary"]
    assert usage["summary"]["cost_micros"] == sum(costs), usage["summary"]
    assert daemon.stop() == 0
    reconcile_ok(daemon, "daemon stopped")
    print(f"usage: {usage['summary']['requests']} requests, {usage['summary']['cost_micros']} micros = the acknowledged settles")


# --- 3. 10,000 idle connections --------------------------------------------------------------------


IDLE_CONNECTIONS = 10_000
IDLE_ROUNDS = int(os.environ.get("PURSER_IDLE_ROUNDS", "2"))


def raise_nofile(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {needed}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed if hard == resource.RLIM_INFINITY else hard, hard))


def wait_connections(daemon, predicate, timeout: float):
    deadline = time.monotonic() + timeout
    status = status_of(daemon)
    while not predicate(status.connections) and time.monotonic() < deadline:
        time.sleep(0.1)
        status = status_of(daemon)
    return status.connections


def open_idle(path: str, count: int) -> tuple:
    """`count` connected sockets; a full listen backlog answers EAGAIN, retried as a client would."""
    sockets = []
    started = time.monotonic()
    deadline = started + 60
    backlog_full = 0
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setblocking(False)
            while True:
                try:
                    sock.connect(path)
                    break
                except BlockingIOError:
                    backlog_full += 1
                    assert time.monotonic() < deadline, f"only {len(sockets) - 1} connections accepted within 60 s"
                    time.sleep(0.001)
            sock.setblocking(True)
            sock.settimeout(10)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets, time.monotonic() - started, backlog_full


def ping_on(sock: socket.socket, correlation_id: int) -> None:
    sock.sendall(protocol.encode("ping", correlation_id, {}))
    buffer = protocol.FrameBuffer(1 << 20)
    deadline = time.monotonic() + 10
    payload = None
    while payload is None:
        assert time.monotonic() < deadline, "an idle connection got no pong within 10 s"
        data = sock.recv(4096)
        assert data, "an idle connection was closed"
        buffer.feed(data)
        payload = buffer.next_payload()
    message = protocol.decode_payload(payload, role="client")
    assert message.type == "pong" and message.correlation_id == correlation_id, message


def test_10000_idle_connections(make_daemon):
    """Two rounds of 10,000 idle connections: served alongside, closed cleanly, memory returned to
    the daemon's allocator (the second round must not grow RssAnon much beyond the first)."""
    raise_nofile(IDLE_CONNECTIONS + 2_000)
    daemon = make_daemon(["--connections-max", "11000"]).start()
    pid = daemon.pid
    memory_before = memory_kib(pid)
    before = timed_authorizes(daemon, 200)
    rounds = []
    for round_number in range(1, IDLE_ROUNDS + 1):
        sockets, opened, backlog_full = open_idle(daemon.socket_path, IDLE_CONNECTIONS)
        try:
            held = wait_connections(daemon, lambda n: n >= IDLE_CONNECTIONS + 1, 30)
            assert held >= IDLE_CONNECTIONS + 1, f"status counts {held} connections; {IDLE_CONNECTIONS} idle ones are open"
            memory_with = memory_kib(pid)
            during = timed_authorizes(daemon, 200)
            for i, sock in enumerate(random.sample(sockets, 20)):  # the idle connections are really served
                ping_on(sock, 100 + i)
        finally:
            for sock in sockets:
                sock.close()
        left = wait_connections(daemon, lambda n: n <= 1, 30)
        assert left <= 1, f"{left} connections still counted 30 s after every idle one closed"
        time.sleep(0.3)
        memory_after = memory_kib(pid)
        rounds.append((opened, backlog_full, held, memory_with, during, memory_after))
    after = timed_authorizes(daemon, 200)
    assert daemon.running()
    print(f"\nauthorize latency before: {latency_text(before)}; daemon VmRSS {mib(memory_before['VmRSS'])} "
          f"(RssAnon {mib(memory_before['RssAnon'])})")
    for number, (opened, backlog_full, held, memory_with, during, memory_after) in enumerate(rounds, 1):
        print(f"round {number}: {IDLE_CONNECTIONS} idle connections opened in {opened:.2f}s ({backlog_full} connect "
              f"retries on a full backlog); status counted {held}")
        print(f"  authorize latency with them held: {latency_text(during)}")
        print(f"  VmRSS with them {mib(memory_with['VmRSS'])} (RssAnon {mib(memory_with['RssAnon'])}, "
              f"{(memory_with['RssAnon'] - memory_before['RssAnon']) * 1024 / IDLE_CONNECTIONS:.0f} bytes per connection); "
              f"after closing {mib(memory_after['VmRSS'])} (RssAnon {mib(memory_after['RssAnon'])})")
    print(f"authorize latency after: {latency_text(after)}")
    for _opened, _backlog, _held, _with, during, _after in rounds:
        assert percentile(during, 0.99) < 50, latency_text(during)
    growth = rounds[1][3]["RssAnon"] - rounds[0][3]["RssAnon"]
    assert growth < 16 * 1024, f"the second 10,000 connections grew RssAnon by {mib(growth)} more than the first: a leak"
    assert daemon.stop() == 0


# --- 4. slow clients ---------------------------------------------------------------------------------


SLOW_CONNECTIONS = 32


def test_slow_clients_do_not_delay_others(make_daemon):
    daemon = make_daemon().start()
    tags = [f"slowtag-{i:02d}-padding" for i in range(8)]
    frames = []
    sockets = []
    for i in range(SLOW_CONNECTIONS):
        frames.append(protocol.encode("authorize", 1000 + i, {
            "key": secret(LOAD_KEY), "model": MODEL, "estimate_micros": 100, "tag": tags,
            "request_id": f"slow-{i:03d}-" + "x" * 110}))
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(10)
        sock.connect(daemon.socket_path)
        sockets.append(sock)
    frame_bytes = len(frames[0])
    progress = {"step": 0, "done_at": None}
    errors = []

    def trickle():
        try:
            rng = random.Random(5)
            for step in range(frame_bytes):
                for sock, frame in zip(sockets, frames):
                    sock.sendall(frame[step:step + 1])
                progress["step"] = step + 1
                time.sleep(rng.uniform(0.005, 0.010))
            progress["done_at"] = time.monotonic()
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    try:
        sender = threading.Thread(target=trickle, daemon=True)
        trickle_started = time.monotonic()
        sender.start()
        time.sleep(0.1)
        latencies = timed_authorizes(daemon, 200)
        measured_at_step = progress["step"]
        sender.join(60)
        assert not sender.is_alive(), "the slow sender did not finish within 60 s"
        assert not errors, errors
        frame_seconds = progress["done_at"] - trickle_started
        assert measured_at_step < frame_bytes, "the 200 authorizes outlasted the slow frames: nothing was measured"
        replies = 0
        for i, sock in enumerate(sockets):
            buffer = protocol.FrameBuffer(1 << 20)
            deadline = time.monotonic() + 10
            payload = None
            while payload is None:
                assert time.monotonic() < deadline, f"slow connection {i} got no reply within 10 s"
                data = sock.recv(65536)
                assert data, f"slow connection {i} was closed without a reply"
                buffer.feed(data)
                payload = buffer.next_payload()
            message = protocol.decode_payload(payload, role="client")
            assert message.type == "authorize_reply" and message.correlation_id == 1000 + i, message
            assert message.fields["allowed"] is True and message.fields["tenant"] == "load", message
            assert set(tags) <= set(message.fields.get("tag", [])), message
            replies += 1
    finally:
        for sock in sockets:
            sock.close()
    print(f"\n{SLOW_CONNECTIONS} slow connections, {frame_bytes}-byte frames one byte every 5-10 ms "
          f"({frame_seconds:.2f}s per frame; the 200 authorizes ended at byte {measured_at_step})")
    print(f"normal client meanwhile: {latency_text(latencies)}; slow frames answered: {replies}/{SLOW_CONNECTIONS}")
    assert percentile(latencies, 0.99) < 50, latency_text(latencies)
    assert replies == SLOW_CONNECTIONS
    assert daemon.stop() == 0


# --- 5. flood beyond the in-flight limit -----------------------------------------------------------


#: About 30 s on a debug build today (the daemon takes the whole unread flood, ~8,000 frames a second);
#: a few seconds once backpressure holds. PURSER_FLOOD_FRAMES lowers it.
FLOOD_FRAMES = int(os.environ.get("PURSER_FLOOD_FRAMES", "200000"))
#: The unread phase: at least this long, then until the flood is all written or stalls for 2 s.
FLOOD_UNREAD_SECONDS_MIN = 4.0
FLOOD_UNREAD_SECONDS_MAX = 45.0
#: Requests of an unread connection the daemon may apply: 64 in flight + replies buffered.
UNREAD_OPERATIONS_MAX = 3_000
#: Another connection's ping and authorize during the flood (generous for a debug build, where
#: 64 requests queued ahead take ~60 ms).
PROBE_P99_MS = 250
FLOOD_READ_TIMEOUT_S = 120
RSS_LIMIT_KIB = 256 * 1024


def flood_frames(count: int) -> bytes:
    """`count` authorize frames, correlation ids 1..count, each with its own request id."""
    fields = (protocol.encode_field(1, secret(LOAD_KEY).encode()) + protocol.encode_field(2, MODEL.encode())
              + protocol.encode_field(4, struct.pack(">q", 100)))
    request_field_length = 4 + len("fl-00000000")
    length = 10 + len(fields) + request_field_length
    parts = []
    for cid in range(1, count + 1):
        parts.append(struct.pack(">IBBQ", length, 1, 0x01, cid) + fields
                     + protocol.encode_field(7, f"fl-{cid:08d}".encode()))
    data = b"".join(parts)
    assert protocol.decode(data[:4 + length], role="server").fields["request_id"] == "fl-00000001"
    return data


def test_flood_beyond_inflight_limit_keeps_memory_bounded(make_daemon):
    daemon = make_daemon(["--inflight-per-connection-max", "64"]).start()
    pid = daemon.pid
    data = flood_frames(FLOOD_FRAMES)
    frame_size = len(data) // FLOOD_FRAMES
    memory_start = memory_kib(pid)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(daemon.socket_path)
    sock.setblocking(False)
    state = {"sent": 0, "received": 0, "reading": False, "error": None}
    stop = threading.Event()
    seen = bytearray(FLOOD_FRAMES + 1)
    bad = []

    def pump():
        """Writes as fast as the socket takes it; reads only once `reading` is set."""
        selector = selectors.DefaultSelector()
        selector.register(sock, selectors.EVENT_WRITE)
        buffer = bytearray()
        view = memoryview(data)
        registered = selectors.EVENT_WRITE
        try:
            while not stop.is_set() and state["received"] < FLOOD_FRAMES:
                wanted = ((selectors.EVENT_WRITE if state["sent"] < len(data) else 0)
                          | (selectors.EVENT_READ if state["reading"] else 0))
                if wanted == 0:
                    time.sleep(0.01)
                    continue
                if wanted != registered:
                    selector.modify(sock, wanted)
                    registered = wanted
                for _key, mask in selector.select(0.05):
                    if mask & selectors.EVENT_WRITE:
                        try:
                            state["sent"] += sock.send(view[state["sent"]:state["sent"] + 262144])
                        except BlockingIOError:
                            pass
                    if mask & selectors.EVENT_READ:
                        try:
                            chunk = sock.recv(1 << 20)
                        except BlockingIOError:
                            continue
                        if not chunk:
                            raise ConnectionError("the daemon closed the flooding connection")
                        buffer += chunk
                        offset = 0
                        while len(buffer) - offset >= 4:
                            (length,) = struct.unpack_from(">I", buffer, offset)
                            if len(buffer) - offset - 4 < length:
                                break
                            payload = bytes(buffer[offset + 4:offset + 4 + length])
                            offset += 4 + length
                            cid = struct.unpack_from(">Q", payload, 2)[0]
                            # authorize_reply, first field `allowed` = true, a correlation id we sent
                            if payload[1] != 0x81 or payload[10:15] != b"\x00\x01\x00\x01\x01" or not 0 < cid <= FLOOD_FRAMES:
                                bad.append(payload[:64].hex())
                            elif seen[cid]:
                                bad.append(f"duplicate reply to {cid}")
                            else:
                                seen[cid] = 1
                                state["received"] += 1
                        del buffer[:offset]
        except BaseException as error:  # noqa: BLE001
            state["error"] = error
        finally:
            selector.close()

    thread = threading.Thread(target=pump, daemon=True)
    samples = []  # (seconds, phase, frames written, replies read, VmRSS KiB, RssAnon KiB, ops, batches)
    started = time.monotonic()
    phase = {"name": "flood"}

    def sampler():
        while not stop.is_set():
            memory = memory_kib(pid)
            samples.append((time.monotonic() - started, phase["name"], state["sent"] // frame_size, state["received"],
                            memory["VmRSS"], memory["RssAnon"]))
            stop.wait(0.1)

    sampling = threading.Thread(target=sampler, daemon=True)
    pings, authorizes = [], []
    try:
        thread.start()
        sampling.start()
        # Phase A: flood without reading; another connection is served meanwhile.
        # It ends once every frame is written, or once nothing more was taken for 2 s (backpressure).
        last_progress = (0, time.monotonic())
        with daemon.client(timeout=10) as client:
            while time.monotonic() - started < FLOOD_UNREAD_SECONDS_MAX:
                if state["sent"] != last_progress[0]:
                    last_progress = (state["sent"], time.monotonic())
                if state["sent"] == len(data) or (time.monotonic() - last_progress[1] > 2.0
                                                  and time.monotonic() - started > FLOOD_UNREAD_SECONDS_MIN):
                    break
                t0 = time.perf_counter()
                assert client.ping().server_version
                t1 = time.perf_counter()
                result = client.authorize(secret(LOAD_KEY), MODEL, estimate_micros=100)
                t2 = time.perf_counter()
                assert result.allowed, result
                pings.append((t1 - t0) * 1000)
                authorizes.append((t2 - t1) * 1000)
                time.sleep(0.05)
        with daemon.admin() as admin:
            status_flood = admin.status()
        unread_seconds = time.monotonic() - started
        flood_samples = [s for s in samples if s[0] <= unread_seconds]
        # Phase B: read every reply while the rest is written.
        phase["name"] = "read"
        state["reading"] = True
        deadline = time.monotonic() + FLOOD_READ_TIMEOUT_S
        while state["received"] < FLOOD_FRAMES and time.monotonic() < deadline and thread.is_alive():
            time.sleep(0.1)
        with daemon.admin() as admin:
            status_end = admin.status()
    finally:
        stop.set()
        thread.join(10)
        sampling.join(10)
        sock.close()
    memory_end = memory_kib(pid)
    half = flood_samples[len(flood_samples) // 2]
    last = flood_samples[-1]
    peak = max(s[4] for s in samples)
    print(f"\nflood: {FLOOD_FRAMES} authorize frames of {frame_size} bytes on one connection, in-flight limit 64; "
          f"start VmRSS {mib(memory_start['VmRSS'])} (RssAnon {mib(memory_start['RssAnon'])})")
    print(f"unread for {unread_seconds:.1f}s: {last[2]} frames written ({half[2]} at {half[0]:.1f}s); "
          f"VmRSS {mib(last[4])}, RssAnon {mib(half[5])} at {half[0]:.1f}s -> {mib(last[5])}")
    print(f"another connection meanwhile: ping {latency_text(pings)}; authorize {latency_text(authorizes)}")
    print(f"daemon: {status_flood.operations_committed} operations in {status_flood.batches_committed} commits while unread "
          f"(largest possible batch with one flooding connection: 64 + the probe's 1); at the end "
          f"{status_end.operations_committed} in {status_end.batches_committed}")
    print(f"reading: {state['received']} replies in {samples[-1][0] - last[0]:.1f}s; VmRSS peak {mib(peak)}, "
          f"end {mib(memory_end['VmRSS'])} (RssAnon {mib(memory_end['RssAnon'])}, RssFile {mib(memory_end['RssFile'])})")
    for s in flood_samples[::max(1, len(flood_samples) // 8)] + samples[len(flood_samples)::max(1, len(samples) // 8)] + [samples[-1]]:
        print(f"  t={s[0]:6.2f}s {s[1]:5s} written {s[2]:7d} read {s[3]:7d} VmRSS {mib(s[4])} RssAnon {mib(s[5])}")
    assert state["error"] is None, f"flood connection: {state['error']!r}"
    assert not bad, f"{len(bad)} bad replies, e.g. {bad[:3]}"
    assert state["received"] == FLOOD_FRAMES, f"only {state['received']} of {FLOOD_FRAMES} replies within {FLOOD_READ_TIMEOUT_S}s"
    assert all(seen[1:]), "some correlation ids got no reply"
    # Every check, so that one run reports every way the flood went wrong.
    failures = []
    # While nothing is read, the daemon may take at most the in-flight limit plus the replies the
    # socket and NIO's write buffer hold (a few hundred to ~2,000 frames); after that a flood must
    # cost the flooder latency, not the daemon memory or other connections' time.
    unread_operations = status_flood.operations_committed - len(authorizes)
    if unread_operations > UNREAD_OPERATIONS_MAX:
        failures.append(
            f"the daemon applied {unread_operations} requests of a connection that read none of its replies "
            f"(in-flight limit 64; {status_flood.batches_committed} commits, about "
            f"{unread_operations // max(1, status_flood.batches_committed)} per commit from one connection)")
    if last[2] - half[2] >= 2_000:
        failures.append(f"the daemon kept reading an unread flood: {half[2]} frames written at {half[0]:.1f}s, "
                        f"{last[2]} at {last[0]:.1f}s")
    if last[5] - half[5] >= 8 * 1024:
        failures.append(f"RssAnon grew {mib(last[5] - half[5])} in the second half of the unread flood "
                        f"({mib(half[5])} at {half[0]:.1f}s -> {mib(last[5])} at {last[0]:.1f}s)")
    if peak >= RSS_LIMIT_KIB:
        failures.append(f"VmRSS peaked at {mib(peak)} (limit {mib(RSS_LIMIT_KIB)})")
    if percentile(pings, 0.99) >= PROBE_P99_MS or percentile(authorizes, 0.99) >= PROBE_P99_MS:
        failures.append(f"another connection during the flood: ping {latency_text(pings)}; "
                        f"authorize {latency_text(authorizes)} (limit p99 {PROBE_P99_MS} ms)")
    assert not failures, "\n".join(failures)
    assert daemon.stop() == 0
