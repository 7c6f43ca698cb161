"""The SQLite ledger end to end: exactly once under kill -9 during flushes, reconciliation after
every crash, and usage and invoices that agree with what clients were told.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import threading
import time

import pytest

from conftest import MODEL, run_cli, secret
from purser_client import ConnectionClosed, PurserError

CRASH_KEYS = ["k_crash1", "k_crash2", "k_crash3", "k_crash4"]


def wait_until_drained(daemon, timeout: float = 20.0) -> dict:
    """Polls status until the outbox is empty and the ledger has caught up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with daemon.admin() as admin:
            status = admin.status()
        if status.outbox_depth == 0 and status.ledger_lag_ms == 0:
            return status
        time.sleep(0.1)
    raise AssertionError(f"the ledger did not drain within {timeout}s: {status}")


def reconcile(daemon) -> dict:
    result = run_cli("reconcile", "--data", daemon.data_dir, "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["consistent"], f"reconcile failed:\n{result.stdout}\n{result.stderr}"
    return report


def load(daemon, acked: list, unacked: list, stop: threading.Event, seed: int) -> None:
    """authorize+settle pairs with known costs until stopped or the daemon dies."""
    rng = random.Random(seed)
    try:
        with daemon.client(timeout=10) as client:
            while not stop.is_set():
                allowed = client.authorize(secret(rng.choice(CRASH_KEYS)), MODEL, estimate_micros=10_000)
                assert allowed.allowed, allowed
                cost = rng.randint(1, 9_999)
                try:
                    answer = client.settle(allowed.reservation, cost_micros=cost)
                except (OSError, ConnectionClosed, TimeoutError, PurserError):
                    unacked.append((allowed.reservation, cost))
                    return
                acked.append((allowed.reservation, cost, answer.replayed))
    except (OSError, ConnectionClosed, TimeoutError, PurserError):
        return


def test_ledger_is_exactly_once_under_kill9_during_flushes(make_daemon):
    daemon = make_daemon().start()
    acked: list = []
    unacked: list = []
    rng = random.Random(7)
    for cycle in range(3):
        stop = threading.Event()
        threads = [threading.Thread(target=load, args=(daemon, acked, unacked, stop, cycle * 10 + i), daemon=True) for i in range(4)]
        for thread in threads:
            thread.start()
        # Kill at a random moment: the ledger flushes every second, so over three cycles some
        # kills land inside or right after a flush, before its outbox trim.
        time.sleep(1.0 + rng.random() * 1.5)
        daemon.kill9()
        stop.set()
        for thread in threads:
            thread.join(15)
        daemon.start()
        reconcile(daemon)
    status = wait_until_drained(daemon)
    assert len(acked) > 100, f"too little load to mean anything: {len(acked)} settles"
    assert not any(replayed for _, _, replayed in acked)
    daemon.stop()
    report = reconcile(daemon)
    assert report["events_pending"] == 0

    ledger = sqlite3.connect(f"file:{os.path.join(daemon.data_dir, 'ledger.sqlite3')}?mode=ro", uri=True)
    rows = ledger.execute("SELECT reservation_id, cost_micros FROM events WHERE kind = 'settle'").fetchall()
    high_water = ledger.execute("SELECT value FROM ledger_meta WHERE name = 'high_water'").fetchone()[0]
    sequences = ledger.execute("SELECT COUNT(*), MIN(sequence), MAX(sequence) FROM events").fetchone()
    ledger.close()
    in_ledger = dict(rows)
    # Exactly once: no settle twice, no sequence skipped or repeated.
    assert len(rows) == len(in_ledger), "a settle is in the ledger twice"
    assert sequences == (high_water, 1, high_water), f"events {sequences} do not cover 1..{high_water} once each"
    # Every acknowledged settle is there with its cost; an unacknowledged one may or may not be.
    for reservation, cost, _ in acked:
        assert in_ledger.get(reservation) == cost, f"acknowledged settle {reservation} ({cost}) missing or wrong in the ledger"
    assert set(in_ledger) <= {r for r, _, _ in acked} | {r for r, _ in unacked}
    print(f"3 kills: {len(acked)} acknowledged settles, {len(unacked)} unacknowledged, {len(rows)} in the ledger, high water {status.ledger_high_water}")


def test_usage_and_invoice_agree_with_the_settles(daemon):
    costs = [1_234, 5_678, 91]
    with daemon.client() as client:
        for cost in costs:
            allowed = client.authorize(secret("k_crash1"), MODEL, estimate_micros=10_000, tags=["summarize"])
            client.settle(allowed.reservation, cost_micros=cost)
        errored = client.authorize(secret("k_crash2"), MODEL, estimate_micros=10_000)
        client.settle(errored.reservation, cost_micros=9, status="error")
    wait_until_drained(daemon)
    month = time.strftime("%Y-%m", time.gmtime())
    usage = json.loads(run_cli("usage", "--data", daemon.data_dir, "--tenant", "crash", "--month", month, "--by", "key", "tag",
                               "--format", "json", check=True).stdout)
    assert usage["summary"] == {"requests": 4, "errors": 1, "input_tokens": 0, "output_tokens": 0, "cost_micros": sum(costs) + 9}
    assert [(row["key"], row["cost_micros"]) for row in usage["by_key"]] == [("k_crash1", sum(costs)), ("k_crash2", 9)]
    assert {row["tag"]: row["requests"] for row in usage["by_tag"]}.get("summarize") == 3
    invoice = json.loads(run_cli("invoice", "--data", daemon.data_dir, "--month", month, "--markup-percent", "12.5",
                                 "--format", "json", check=True).stdout)
    crash_line = next(line for line in invoice["lines"] if line["tenant"] == "crash")
    assert crash_line["cost_micros"] == sum(costs) + 9
    # 7,012 micros × 1.125 = 7,888.5, rounded half up.
    assert crash_line["billed_micros"] == 7_889
    assert invoice["total_billed_micros"] == sum(line["billed_micros"] for line in invoice["lines"])
    reconcile(daemon)


# The map is kept small: with the write map (the default) LMDB's file is as large as the map, and
# the test reads it whole.
@pytest.mark.parametrize("store_flags", [["--map-size-bytes", "67108864"], ["--no-write-map"]], ids=["write-map", "pwrite"])
def test_power_loss_is_recovered_from_the_journal(make_daemon, store_flags):
    """Simulates a power loss: LMDB's file goes back to what the disk held at the last checkpoint
    (a copy taken then), the journal keeps what was fsynced before each acknowledgement. The
    restarted daemon must replay the journal and end with every acknowledged settle, counters and
    ledger reconciled, idempotency intact."""
    daemon, acked, last = run_until_power_loss(make_daemon, store_flags, count=60, seed=7)
    daemon.start()
    replayed = [line for line in daemon.log_text().splitlines() if "journal replayed" in line]
    assert replayed and "entries_replayed=0" not in replayed[-1], daemon.log_tail()
    assert_every_acknowledged_settle_kept(daemon, acked, last, events=60)


@pytest.mark.parametrize("restart_flags", [["--sync-commits"], ["--no-journal"]], ids=["sync-commits", "no-journal"])
def test_power_loss_then_a_restart_without_the_journal_still_replays_it(make_daemon, restart_flags):
    """The same power loss, but the operator restarts the daemon in a mode that keeps no journal.
    The journal still holds settles that were acknowledged: the daemon must replay it, then delete
    it, so that a later restart in the default mode replays nothing stale onto the moved-on store."""
    map_flags = ["--map-size-bytes", "67108864"]
    daemon, acked, last = run_until_power_loss(make_daemon, map_flags, count=40, seed=13)
    daemon.extra_args = [*map_flags, *restart_flags]
    daemon.start()
    replayed = [line for line in daemon.log_text().splitlines() if "journal replayed" in line]
    assert replayed and "entries_replayed=0" not in replayed[-1], daemon.log_tail()
    assert not [name for name in os.listdir(daemon.data_dir) if name.startswith("journal-")]
    assert_every_acknowledged_settle_kept(daemon, acked, last, events=40)

    # The store moves on in that mode, then comes back to the default one.
    more, _ = run_settles(daemon, 10, seed=17)
    wait_until_drained(daemon)
    daemon.stop()
    daemon.extra_args = map_flags
    daemon.start()
    state = read_state_scopes(daemon.data_dir)
    for key in CRASH_KEYS:
        assert state[f"key:{key}"]["total"]["spent_micros"] == acked[key] + more[key], key
    assert reconcile(daemon)["events_in_ledger"] == 50


def run_until_power_loss(make_daemon, store_flags: list, count: int, seed: int) -> tuple:
    """Runs a daemon that never checkpoints, so that LMDB's last sync is start-up's and a copy of
    its file taken then is exactly what a power loss would leave of it; makes `count` acknowledged
    pairs, drains the ledger, kills the daemon and leaves the data directory as that power loss
    would (`restore_power_loss`). Returns the daemon, the spend per key and the last
    (reservation, cost)."""
    daemon = make_daemon(extra_args=["--sweep-interval-milliseconds", "600000", *store_flags]).start()
    time.sleep(0.3)
    with open(os.path.join(daemon.data_dir, "data.mdb"), "rb") as handle:
        lmdb_at_checkpoint = handle.read()
    acked, last = run_settles(daemon, count, seed=seed)
    wait_until_drained(daemon)
    with daemon.admin() as admin:
        assert admin.status().checkpoints == 0
    daemon.kill9()
    restore_power_loss(daemon.data_dir, lmdb_at_checkpoint)
    return daemon, acked, last


def assert_every_acknowledged_settle_kept(daemon, acked: dict, last: tuple, events: int) -> None:
    """After a restart from a power loss: each crash key's spend is what was acknowledged, the
    ledger reconciles with `events` events, and retrying the last settle is a replay."""
    state = read_state_scopes(daemon.data_dir)
    for key in CRASH_KEYS:
        assert state[f"key:{key}"]["total"]["spent_micros"] == acked[key], (key, state[f"key:{key}"])
    report = reconcile(daemon)
    assert report["events_in_ledger"] == events
    with daemon.client() as client:
        again = client.settle(last[0], cost_micros=last[1])
        assert again.replayed is True and again.cost_micros == last[1], again


def restore_power_loss(data_dir: str, lmdb_at_checkpoint: bytes) -> None:
    """Puts LMDB's file back as the last checkpoint left it on disk, and checks that it really is
    behind: read from a copy of the directory without the journal, nothing was charged."""
    with open(os.path.join(data_dir, "data.mdb"), "r+b") as handle:
        handle.truncate(0)
        handle.write(lmdb_at_checkpoint)
    without_journal = data_dir + "-no-journal"
    shutil.copytree(data_dir, without_journal, ignore=shutil.ignore_patterns("journal-*"))
    try:
        lost = read_state_scopes(without_journal)
    finally:
        shutil.rmtree(without_journal, ignore_errors=True)
    assert all(lost.get(f"key:{key}", {}).get("total", {}).get("spent_micros", 0) == 0 for key in CRASH_KEYS), \
        "the restored LMDB file is not behind: the test would prove nothing"


def run_settles(daemon, count: int, seed: int) -> tuple:
    """`count` authorize+settle pairs on the crash keys, each acknowledged; returns the spend per
    key and the last (reservation, cost)."""
    rng = random.Random(seed)
    acked = {key: 0 for key in CRASH_KEYS}
    last = None
    with daemon.client(timeout=10) as client:
        for _ in range(count):
            key = rng.choice(CRASH_KEYS)
            allowed = client.authorize(secret(key), MODEL, estimate_micros=10_000)
            assert allowed.allowed, allowed
            cost = rng.randint(1, 9_999)
            answer = client.settle(allowed.reservation, cost_micros=cost)
            assert answer.cost_micros == cost and not answer.replayed, answer
            acked[key] += cost
            last = (allowed.reservation, cost)
    return acked, last


def test_state_and_reconcile_replay_the_journal_when_no_daemon_runs(make_daemon):
    """After a power loss, an operator may read the data directory before starting the daemon:
    `purser state` must show what was acknowledged, not LMDB's stale file."""
    daemon, acked, _ = run_until_power_loss(make_daemon, ["--map-size-bytes", "67108864"], count=30, seed=11)

    result = run_cli("state", "--data", daemon.data_dir, "--json", check=True)
    assert "replayed" in result.stderr and "journal entries" in result.stderr, result.stderr
    scopes = json.loads(result.stdout)["scopes"]
    for key in CRASH_KEYS:
        assert scopes[f"key:{key}"]["total"]["spent_micros"] == acked[key]
    assert reconcile(daemon)["events_in_ledger"] == 30
    # Nothing is left for the daemon to replay, and nothing is replayed twice.
    daemon.start()
    assert not [line for line in daemon.log_text().splitlines() if "journal replayed" in line], daemon.log_tail()
    state = read_state_scopes(daemon.data_dir)
    for key in CRASH_KEYS:
        assert state[f"key:{key}"]["total"]["spent_micros"] == acked[key]


def read_state_scopes(data_dir: str) -> dict:
    return json.loads(run_cli("state", "--data", data_dir, "--json", check=True).stdout).get("scopes", {})


def journal_checksum(data: bytes, seed: int) -> int:
    """`JournalChecksum.of` (Sources/PurserStore/JournalChecksum.swift), which seals the
    synced-snapshot record too."""
    mask, multiplier = (1 << 64) - 1, 0x9E3779B97F4A7C15
    value = (seed ^ 0xC2B2AE3D27D4EB4F ^ len(data)) & mask
    whole = len(data) - len(data) % 8
    for offset in range(0, whole, 8):
        value = ((value ^ int.from_bytes(data[offset:offset + 8], "little")) * multiplier) & mask
        value ^= value >> 29
    tail = int.from_bytes(data[whole:], "little")
    value = ((value ^ tail) * multiplier) & mask
    return value ^ (value >> 32)


def rewrite_snapshot_boot(data_dir: str, boot: str) -> int:
    """Re-seals DATA/synced-snapshot as if made in boot `boot` (docs/architecture.md has the
    layout); returns the transaction it names."""
    path = os.path.join(data_dir, "synced-snapshot")
    with open(path, "rb") as handle:
        record = handle.read()
    assert record[:8] == b"PURSNAP1"
    page_bytes = int.from_bytes(record[8:12], "little")
    boot_count = record[12]
    rest = record[13 + boot_count:-8]
    transaction = int.from_bytes(rest[:8], "little")
    assert len(rest) == 8 + page_bytes
    body = record[:12] + bytes([len(boot)]) + boot.encode() + rest
    with open(path, "wb") as handle:
        handle.write(body + journal_checksum(body, 0).to_bytes(8, "little"))
    return transaction


def test_an_os_crash_during_writeback_reopens_the_synced_snapshot(make_daemon):
    """A power loss while LMDB's pages are written back: the disk holds the newest meta pages (an
    msync writes them first, they are the file's first two pages) over the pages the last sync
    left. LMDB alone finds that file corrupt; the restarted daemon, in another boot, must reopen
    the snapshot its last sync recorded, replay the journal, and end with every acknowledged settle."""
    daemon = make_daemon(extra_args=["--sweep-interval-milliseconds", "600000"]).start()
    time.sleep(0.3)
    data_file = os.path.join(daemon.data_dir, "data.mdb")
    with open(data_file, "rb") as handle:
        at_last_sync = handle.read()
    acked, last = run_settles(daemon, 60, seed=13)
    wait_until_drained(daemon)
    with open(data_file, "rb") as handle:
        in_page_cache = handle.read()
    daemon.kill9()

    page_bytes = os.sysconf("SC_PAGE_SIZE")
    torn = in_page_cache[:2 * page_bytes] + at_last_sync[2 * page_bytes:]
    with open(data_file, "wb") as handle:
        handle.write(torn)

    # Trusting the newest meta pages (the record's boot is this one) fails: the test would prove
    # nothing otherwise.
    trusting = daemon.data_dir + "-same-boot"
    shutil.copytree(daemon.data_dir, trusting)
    try:
        result = run_cli("state", "--data", trusting, "--json")
        assert result.returncode != 0 and "MDB_CORRUPTED" in result.stderr, (result.stdout, result.stderr)
    finally:
        shutil.rmtree(trusting, ignore_errors=True)

    reopened = rewrite_snapshot_boot(daemon.data_dir, "another-boot")
    daemon.start()
    log = daemon.log_text()
    assert "reopened the snapshot that sync recorded" in log and f"lmdb_transaction_reopened={reopened}" in log, daemon.log_tail()
    assert_every_acknowledged_settle_kept(daemon, acked, last, events=60)


@pytest.mark.parametrize("on_store_error", ["fail_closed", "fail_open"])
def test_a_nearly_full_map_refuses_new_reservations_and_settles_every_one_made(make_daemon, on_store_error):
    """A daemon whose LMDB map fills up under ordinary traffic (each request settled soon after its
    authorize) starts refusing authorizes as `on_store_error` says once its file is within 40% of
    the map's end, and every reservation it had made can still be settled: nothing
    acknowledged is lost and the ledger reconciles. (Without the headroom, settles failed first.)"""
    # A 16 MiB map fills within seconds. A checkpoint every 10 ms moves the synced-snapshot pin
    # (the pages freed since can be reused only after it); the headroom, 1,600 pages, must hold
    # what is written until then, even on a slow CI machine.
    daemon = make_daemon(extra_args=["--map-size-bytes", str(16 << 20), "--map-headroom-percent", "40",
                                     "--sweep-interval-milliseconds", "10"])
    if on_store_error == "fail_open":
        with open(daemon.policy_path) as handle:
            text = handle.read()
        with open(daemon.policy_path, "w") as handle:
            handle.write(text.replace("  reservation_retention: 24h\n", "  reservation_retention: 24h\n  on_store_error: fail_open\n"))
    daemon.start()
    open_reservations, settled, refusal = [], 0, None
    with daemon.client(timeout=10) as client:
        for index in range(200_000):
            answer = client.authorize(secret(CRASH_KEYS[index % 4]), MODEL, estimate_micros=10, request_id=f"full-{index}")
            if not answer.allowed or not answer.reservation:
                refusal = answer
                break
            open_reservations.append(answer.reservation)
            if len(open_reservations) > 20:
                client.settle(open_reservations.pop(0), cost_micros=7)
                settled += 1
        assert refusal is not None, "a 16 MiB map never filled"
        if on_store_error == "fail_closed":
            assert not refusal.allowed and refusal.reason == "unavailable" and refusal.status == 503, refusal
        else:
            assert refusal.allowed and not refusal.reservation, refusal
        assert "nearly full" in (refusal.detail or ""), refusal
        for reservation in open_reservations:
            assert client.settle(reservation, cost_micros=7).replayed is False
    assert "the LMDB map is nearly full" in daemon.log_text(), daemon.log_tail()
    wait_until_drained(daemon)
    report = reconcile(daemon)
    assert report["events_in_ledger"] == settled + len(open_reservations)
