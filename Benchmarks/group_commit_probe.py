#!/usr/bin/env python3
"""Group-commit probe for `purser serve`: latency of authorize and of a durable settle, as ratios
to a ping round trip measured in the same run, and throughput with concurrent pipelined clients.

Not the benchmark harness (that is `make bench`); a quick, reproducible look at what group commit
buys. Usage:
    python3 Benchmarks/group_commit_probe.py [--bin .build-release/release/purser] [--seconds 3]
"""
import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python"))
from purser_client import Client  # noqa: E402
from purser_client.client import authorize_request, settle_request  # noqa: E402

KEYS = 64


def policy_text():
    lines = ["version: 1", "prices:", "  m: { input: 1000000, output: 1000000 }", "plans:", "  p: { models: ['*'] }",
             "tenants:", "  t: { plan: p, budgets: [ { period: month, cap_micros: 1000000000000000 } ] }", "keys:"]
    for index in range(KEYS):
        digest = hashlib.sha256(f"pk_probe_{index}".encode()).hexdigest()
        lines.append(f"  - {{ id: k{index}, tenant: t, sha256: \"{digest}\" }}")
    return "\n".join(lines) + "\n"


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def timed(call, count):
    samples = []
    for _ in range(count):
        start = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - start) / 1000)
    return samples


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=".build-release/release/purser")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--sync-commits", action="store_true")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="purser-probe-")
    policy = os.path.join(work, "policy.yaml")
    with open(policy, "w") as handle:
        handle.write(policy_text())
    sock, admin = os.path.join(work, "p.sock"), os.path.join(work, "a.sock")
    command = [args.bin, "serve", "--policy", policy, "--data", os.path.join(work, "data"), "--socket", sock, "--admin-socket", admin,
               "--log-level", "warning"] + (["--sync-commits"] if args.sync_commits else [])
    daemon = subprocess.Popen(command)
    try:
        deadline = time.time() + 10
        while not os.path.exists(admin) and time.time() < deadline:
            time.sleep(0.02)
        client = Client(sock)
        client.ping()
        count = 2000
        ping = timed(client.ping, count)
        counter = iter(range(10**9))
        authorize = timed(lambda: client.authorize(f"pk_probe_{next(counter) % KEYS}", "m", estimate_micros=10), count)
        reservations = [client.authorize(f"pk_probe_{i % KEYS}", "m", estimate_micros=10).reservation for i in range(count)]
        it = iter(reservations)
        settle = timed(lambda: client.settle(next(it), cost_micros=7), count)

        # Throughput: 8 connections, each pipelining batches of 32 authorize+settle pairs.
        done = [0]
        lock = threading.Lock()
        stop_at = time.time() + args.seconds

        def worker(worker_index):
            connection = Client(sock)
            sequence = 0
            while time.time() < stop_at:
                batch = [authorize_request(f"pk_probe_{(worker_index + i) % KEYS}", "m", estimate_micros=10) for i in range(32)]
                allowed = connection.pipeline(batch)
                settles = [settle_request(result.reservation, cost_micros=7) for result in allowed if result.allowed]
                connection.pipeline(settles)
                sequence += len(batch) + len(settles)
            with lock:
                done[0] += sequence

        before = Client(admin).status()
        threads = [threading.Thread(target=worker, args=(index,)) for index in range(8)]
        started = time.time()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.time() - started
        after = Client(admin).status()
        batches = after.batches_committed - before.batches_committed
        operations = after.operations_committed - before.operations_committed
        syncs = after.syncs - before.syncs

        base = statistics.median(ping)
        print(f"binary {args.bin}  sync-commits {args.sync_commits}  1 connection, {count} sequential requests each")
        print(f"{'':<22}{'p50 us':>10}{'p99 us':>10}{'p50 / ping p50':>16}")
        for name, samples in (("ping (baseline)", ping), ("authorize", authorize), ("settle (durable ack)", settle)):
            print(f"{name:<22}{statistics.median(samples):>10.0f}{percentile(samples, 0.99):>10.0f}{statistics.median(samples) / base:>16.2f}")
        print(f"8 connections pipelining 32 deep for {elapsed:.1f} s: {done[0] / elapsed:,.0f} messages/s "
              f"(authorize and settle), {operations} operations in {batches} group commits "
              f"(mean {operations / max(batches, 1):.1f} per commit), {syncs} fsyncs")
    finally:
        daemon.terminate()
        daemon.wait(timeout=15)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
