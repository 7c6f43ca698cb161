#!/usr/bin/env python3
"""Crash loop: kill -9 Purser under concurrent load, again and again, on one data directory.

    python3 tests/reliability/crash_loop.py [--cycles 20] [--bin PATH] [--threads 16] [--seed N] [--keep]
        [--modes default,sync-commits,default,no-journal]

Each cycle (re)starts `purser serve` on the same data directory, in the next durability mode of
`--modes` (the default rotation restarts with `--sync-commits` and `--no-journal` too, so that what
a kill left is recovered whatever mode comes next), runs `purser reconcile` on what the
previous kill left (it must exit 0), repairs what the previous kill cut off the way a real client
would (retries unanswered authorizes by request id, unanswered settles and releases, and releases
reservations a dead worker still held), retries EVERY settle acknowledged in the previous cycle
(each must come back `replayed` with the same cost), then loads the daemon with concurrent
authorize/settle/release from `--threads` connections and sends SIGKILL at a random moment.

The policy (tests/reliability/policy.yaml) caps tenant `capped` at 5 USD a month and key `k_keycap` at
2 USD in total; the workers hold several reservations at a time so those caps deny. Settle costs
never exceed estimates, so no overdraft is legitimate: after every kill, straight from LMDB, and at
the end, spent + reserved must stay within each cap.

After the last cycle: restart, reconcile, repair, retry, SIGTERM (which drains the ledger), reconcile
again, and check every acknowledged settle is in the SQLite ledger once with its cost and that each
key's spent counter equals the sum of the settles applied.

Prints, last:
    cycles run: N / settles acknowledged: N / settles found afterwards: N / lost: N /
    cap violations: N / reconcile passed: N/N      (one reconcile per restart, plus one at the end)
Exit 0 only if lost = 0, cap violations = 0, every reconcile passed and no other anomaly (listed on
stderr) was seen. The data directory is removed on success, kept (and named) otherwise.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import sys
import threading
import time
import uuid
from collections import defaultdict
from typing import Dict, List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)



# `purser serve` flags of each durability mode the loop restarts in.
MODE_FLAGS = {"default": [], "sync-commits": ["--sync-commits"], "no-journal": ["--no-journal"]}

def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--bin", help="the purser binary (default: $PURSER_BIN, else .build/debug/purser)")
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--kill-after-min", type=float, default=0.3, help="seconds of load before the kill, at least")
    parser.add_argument("--kill-after-max", type=float, default=2.0, help="seconds of load before the kill, at most")
    parser.add_argument("--keep", action="store_true", help="keep the data directory even on success")
    parser.add_argument("--modes", default="default,sync-commits,default,no-journal",
                        help="durability modes to restart in, in turn, one per cycle (default, sync-commits, "
                             "no-journal): recovery must not depend on the mode the killed daemon ran in")
    return parser.parse_args()


ARGS = parse_args()
if ARGS.bin:
    os.environ["PURSER_BIN"] = os.path.abspath(ARGS.bin)

from reliability_support import (  # noqa: E402
    KEY_CAP, MODEL, POLICY_PATH, TENANT_CAP, Daemon, read_state, require_binary, run_cli, scope_counter, secret,
    short_tempdir,
)
from purser_client import Client, ConnectionClosed, PurserError  # noqa: E402
from purser_client.client import SettleResult  # noqa: E402
from purser_client.protocol import ProtocolError  # noqa: E402

CONNECTION_LOST = (OSError, TimeoutError, ConnectionClosed, ProtocolError)

# Worker profiles: (key ids, estimate, cost range, reservations held at once).
PROFILES = [
    (["k_cap1", "k_cap2"], 100_000, (0, 100), 8),   # 8 workers x 8 x 0.1 USD = 6.4 USD wanted > 5 USD cap
    (["k_keycap"], 50_000, (0, 50), 24),             # 2 workers x 24 x 0.05 USD = 2.4 USD wanted > 2 USD cap
    (["k_free1", "k_free2"], 10_000, (1, 10_000), 2),
]
ALL_KEYS = ["k_cap1", "k_cap2", "k_keycap", "k_free1", "k_free2"]


def profile_of(index: int, threads: int):
    capped = max(1, threads // 2)
    keycap = max(1, threads // 8)
    if index < capped:
        return PROFILES[0]
    if index < capped + keycap:
        return PROFILES[1]
    return PROFILES[2]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Ledger:
    """Everything the clients were told, and what a kill cut off."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.acked: Dict[str, Tuple[str, int]] = {}          # reservation -> (key, cost): first-attempt acks
        self.applied: Dict[str, Tuple[str, int]] = {}        # every settle known applied (acked + retried)
        self.cycle_acked: List[Tuple[str, str, int]] = []    # (reservation, key, cost) acked this cycle
        self.pending_authorizes: List[Tuple[str, str, int]] = []  # (key, request_id, estimate) unanswered
        self.unacked_settles: List[Tuple[str, str, int]] = []     # (reservation, key, cost) unanswered
        self.unacked_releases: List[str] = []
        self.held: List[str] = []                                  # reservations a dead worker still held
        self.anomalies: List[str] = []
        self.counts = defaultdict(int)

    def anomaly(self, text: str) -> None:
        with self.lock:
            self.anomalies.append(text)
        log(f"ANOMALY: {text}")


def worker(daemon: Daemon, book: Ledger, stop: threading.Event, index: int, threads: int, seed: int) -> None:
    keys, estimate, (cost_low, cost_high), window = profile_of(index, threads)
    rng = random.Random(seed)
    held: List[Tuple[str, str]] = []  # (reservation, key)
    try:
        client = Client(daemon.socket_path, timeout=10)
    except CONNECTION_LOST:
        return
    try:
        while not stop.is_set():
            if len(held) < window and (not held or rng.random() < 0.6):
                key = rng.choice(keys)
                request_id = f"cl-{uuid.uuid4().hex}"
                try:
                    result = client.authorize(secret(key), MODEL, estimate_micros=estimate, request_id=request_id)
                except PurserError as error:
                    book.anomaly(f"authorize {key}: error {error.code} {error.message}")
                    return
                except CONNECTION_LOST:
                    with book.lock:
                        book.pending_authorizes.append((key, request_id, estimate))
                    return
                if result.allowed:
                    if not result.reservation or result.replayed:
                        book.anomaly(f"authorize {key} {request_id}: odd allow {result}")
                        continue
                    held.append((result.reservation, key))
                    with book.lock:
                        book.counts["authorize_allowed"] += 1
                elif result.reason == "budget_exceeded":
                    with book.lock:
                        book.counts["authorize_denied_budget"] += 1
                    if not held:
                        time.sleep(0.005)  # the cap is full of other workers' reservations
                else:
                    book.anomaly(f"authorize {key}: unexpected deny {result.reason} {result.status} {result.detail}")
                    return
                continue
            reservation, key = held.pop(rng.randrange(len(held)))
            if rng.random() < 0.8:
                cost = rng.randint(cost_low, cost_high)
                try:
                    answer = client.settle(reservation, cost_micros=cost)
                except PurserError as error:
                    book.anomaly(f"settle {reservation}: error {error.code} {error.message}")
                    return
                except CONNECTION_LOST:
                    with book.lock:
                        book.unacked_settles.append((reservation, key, cost))
                    return
                if answer.cost_micros != cost or answer.replayed or (answer.overdraft_micros or 0) != 0:
                    book.anomaly(f"settle {reservation} cost {cost}: odd answer {answer}")
                with book.lock:
                    book.acked[reservation] = (key, cost)
                    book.applied[reservation] = (key, cost)
                    book.cycle_acked.append((reservation, key, cost))
            else:
                try:
                    answer = client.release(reservation)
                except PurserError as error:
                    book.anomaly(f"release {reservation}: error {error.code} {error.message}")
                    return
                except CONNECTION_LOST:
                    with book.lock:
                        book.unacked_releases.append(reservation)
                    return
                if answer.state != "released" or answer.replayed:
                    book.anomaly(f"release {reservation}: odd answer {answer}")
                with book.lock:
                    book.counts["releases"] += 1
    finally:
        with book.lock:
            book.held.extend(r for r, _ in held)
        client.close()


def check_caps(book: Ledger, state: dict, when: str) -> int:
    violations = 0
    for scope, period, cap in (TENANT_CAP, KEY_CAP):
        spent = scope_counter(state, scope, period, "spent_micros")
        reserved = scope_counter(state, scope, period, "reserved_micros")
        if spent + reserved > cap:
            violations += 1
            book.anomaly(f"cap violation {when}: {scope} {period} spent {spent} + reserved {reserved} > cap {cap}")
    return violations


def reconcile(daemon: Daemon, book: Ledger, when: str) -> bool:
    result = run_cli("reconcile", "--data", daemon.data_dir, "--json", timeout=60)
    if result.returncode != 0:
        book.anomaly(f"reconcile {when} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}")
        return False
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        book.anomaly(f"reconcile {when} printed no JSON: {result.stdout[-500:]}")
        return False
    if not report.get("consistent"):
        book.anomaly(f"reconcile {when} exited 0 but says inconsistent: {result.stdout[-2000:]}")
        return False
    return True


def chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def repair_and_verify(daemon: Daemon, book: Ledger) -> int:
    """After a restart: finish what the kill cut off, then retry every settle acknowledged in the
    previous cycle. Returns the number of acknowledged settles found lost."""
    lost = 0
    with book.lock:
        pending, book.pending_authorizes = book.pending_authorizes, []
        unacked, book.unacked_settles = book.unacked_settles, []
        releases, book.unacked_releases = book.unacked_releases, []
        held, book.held = book.held, []
        acked, book.cycle_acked = book.cycle_acked, []
    with Client(daemon.socket_path, timeout=30) as client:
        # Unanswered authorizes, retried by request id: applied before the kill -> replayed; else new.
        for key, request_id, estimate in pending:
            result = client.authorize(secret(key), MODEL, estimate_micros=estimate, request_id=request_id)
            if result.allowed:
                book.counts["pending_authorize_replayed" if result.replayed else "pending_authorize_new"] += 1
                releases.append(result.reservation)
            elif result.reason != "budget_exceeded":
                book.anomaly(f"retried authorize {request_id}: unexpected deny {result}")
        # Unanswered settles: each must now be applied exactly once, with its cost.
        for reservation, key, cost in unacked:
            try:
                answer = client.settle(reservation, cost_micros=cost)
            except PurserError as error:
                book.anomaly(f"retried unanswered settle {reservation}: error {error.code} {error.message} "
                             f"(its authorize was answered, so the reservation must exist)")
                continue
            if answer.cost_micros != cost:
                book.anomaly(f"retried unanswered settle {reservation} cost {cost}: {answer}")
            book.counts["unacked_settle_was_applied" if answer.replayed else "unacked_settle_was_not_applied"] += 1
            book.applied[reservation] = (key, cost)
        # Releases cut off, and reservations dead workers held.
        for reservation in releases + held:
            try:
                answer = client.release(reservation)
            except PurserError as error:
                book.anomaly(f"release {reservation} after restart: error {error.code} {error.message}")
                continue
            if answer.state not in ("released", "expired"):
                book.anomaly(f"release {reservation} after restart: state {answer.state}")
        # Every settle acknowledged last cycle, again: replayed, same cost, nothing charged.
        for part in chunks(acked, 500):
            results = client.pipeline([("settle", {"reservation": r, "cost_micros": c}) for r, _, c in part], timeout=30)
            for (reservation, key, cost), answer in zip(part, results):
                if isinstance(answer, SettleResult) and answer.replayed is True and answer.cost_micros == cost:
                    continue
                lost += 1
                book.anomaly(f"LOST acknowledged settle {reservation} ({key}, {cost} micros): retry answered {answer!r}")
    book.counts["retried_acked"] += len(acked)
    return lost


def check_ledger(daemon: Daemon, book: Ledger) -> int:
    """Acknowledged settles found in the SQLite ledger exactly once with their cost."""
    path = os.path.join(daemon.data_dir, "ledger.sqlite3")
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = connection.execute("SELECT reservation_id, cost_micros FROM events WHERE kind = 'settle'").fetchall()
    finally:
        connection.close()
    seen: Dict[str, List[int]] = defaultdict(list)
    for reservation, cost in rows:
        seen[reservation].append(cost)
    duplicates = [r for r, costs in seen.items() if len(costs) > 1]
    if duplicates:
        book.anomaly(f"{len(duplicates)} settles are in the ledger more than once, e.g. {duplicates[:3]}")
    unknown = [r for r in seen if r not in book.applied]
    if unknown:
        book.anomaly(f"{len(unknown)} settles in the ledger that no client sent, e.g. {unknown[:3]}")
    found = 0
    for reservation, (key, cost) in book.acked.items():
        if seen.get(reservation) == [cost]:
            found += 1
        else:
            book.anomaly(f"acknowledged settle {reservation} ({key}, {cost}) in the ledger as {seen.get(reservation)}")
    return found


def check_counters(book: Ledger, state: dict) -> None:
    expected: Dict[str, int] = defaultdict(int)
    for key, cost in book.applied.values():
        expected[key] += cost
    for key in ALL_KEYS:
        spent = scope_counter(state, f"key:{key}", "total", "spent_micros")
        reserved = scope_counter(state, f"key:{key}", "total", "reserved_micros")
        if spent != expected[key]:
            book.anomaly(f"key:{key} spent {spent} micros, but the settles applied add up to {expected[key]}")
        if reserved != 0:
            book.anomaly(f"key:{key} still has {reserved} micros reserved after every reservation was settled or released")


def main() -> int:
    binary = require_binary()
    seed = ARGS.seed if ARGS.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    directory = short_tempdir("pr-crash-")
    shutil.copy(POLICY_PATH, os.path.join(directory, "policy.yaml"))
    daemon = Daemon(directory, os.path.join(directory, "policy.yaml"), "text")
    log(f"crash loop: {ARGS.cycles} cycles, {ARGS.threads} threads, seed {seed}, binary {binary}, dir {directory}")
    book = Ledger()
    lost = violations = reconciles = reconciles_passed = cycles_run = 0
    found = 0
    started = time.monotonic()
    try:
        modes = [mode.strip() for mode in ARGS.modes.split(",") if mode.strip()]
        unknown = [mode for mode in modes if mode not in MODE_FLAGS]
        if unknown or not modes:
            raise ValueError(f"--modes: unknown {unknown}; choose from {sorted(MODE_FLAGS)}")
        for cycle in range(1, ARGS.cycles + 1):
            daemon.extra_args = MODE_FLAGS[modes[(cycle - 1) % len(modes)]]
            daemon.start()
            if cycle > 1:
                reconciles += 1
                reconciles_passed += reconcile(daemon, book, f"after restart {cycle}")
                lost += repair_and_verify(daemon, book)
            stop = threading.Event()
            workers = [threading.Thread(target=worker, args=(daemon, book, stop, i, ARGS.threads, rng.randrange(1 << 30)),
                                        daemon=True) for i in range(ARGS.threads)]
            before = len(book.acked)
            for thread in workers:
                thread.start()
            delay = rng.uniform(ARGS.kill_after_min, ARGS.kill_after_max)
            time.sleep(delay)
            daemon.kill9()
            stop.set()
            for thread in workers:
                thread.join(30)
            if any(thread.is_alive() for thread in workers):
                book.anomaly(f"cycle {cycle}: workers still running 30 s after the kill")
            cycles_run += 1
            state = read_state(daemon.data_dir)  # straight from LMDB, as the kill left it
            violations += check_caps(book, state, f"after kill {cycle}")
            log(f"cycle {cycle} ({modes[(cycle - 1) % len(modes)]}): killed after {delay:.2f}s; {len(book.acked) - before} settles acknowledged; cut off: "
                f"{len(book.pending_authorizes)} authorizes, {len(book.unacked_settles)} settles, "
                f"{len(book.unacked_releases)} releases; {len(book.held)} reservations held")
        # The end: restart, reconcile, repair and retry, stop cleanly (drains the ledger), reconcile.
        daemon.extra_args = MODE_FLAGS[modes[ARGS.cycles % len(modes)]]
        daemon.start()
        reconciles += 1
        reconciles_passed += reconcile(daemon, book, "after the last restart")
        lost += repair_and_verify(daemon, book)
        code = daemon.stop(30)
        if code != 0:
            book.anomaly(f"SIGTERM at the end: exit code {code}")
        reconciles += 1
        reconciles_passed += reconcile(daemon, book, "at the end, daemon stopped")
        state = read_state(daemon.data_dir)
        violations += check_caps(book, state, "at the end")
        check_counters(book, state)
        found = check_ledger(daemon, book)
    except BaseException as error:  # noqa: BLE001 - pytest.fail raises a BaseException
        book.anomaly(f"crash loop aborted: {type(error).__name__}: {error}")
    finally:
        if daemon.process is not None and daemon.process.poll() is None:
            daemon.kill9()
    lost_total = max(lost, len(book.acked) - found)
    log(f"counts: {dict(book.counts)}; {len(book.applied)} settles applied in all; {time.monotonic() - started:.1f}s")
    print(f"cycles run: {cycles_run}")
    print(f"settles acknowledged: {len(book.acked)}")
    print(f"settles found afterwards: {found}")
    print(f"lost: {lost_total}")
    print(f"cap violations: {violations}")
    print(f"reconcile passed: {reconciles_passed}/{reconciles}")
    ok = (lost_total == 0 and violations == 0 and reconciles_passed == reconciles and not book.anomalies
          and cycles_run == ARGS.cycles)
    if ok and not ARGS.keep:
        shutil.rmtree(directory, ignore_errors=True)
    else:
        log(f"data directory kept: {directory} (daemon log: {daemon.log_path})")
        if book.anomalies:
            log(f"{len(book.anomalies)} anomalies; the first: {book.anomalies[0][:2000]}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
