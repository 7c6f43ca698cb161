#!/usr/bin/env python3
"""Instructions per operation of the running daemon, counted by callgrind: figures that do not drift.

    python3 Benchmarks/instructions.py [--purser-bin PATH] [--keys 100000] [--seconds 5]

Time on this shared VM drifts by 20% or more within an hour (host steal), which hides any change
smaller than that. Callgrind counts the instructions the daemon executes (user space only: the
kernel's share, system calls included, is not counted), and the same work gives the same count
whatever the host is doing. This script runs `purser serve` under callgrind with counting off, lets
the policy load, and then, for each cell, counts only while the load generator runs (after an
uncounted warm-up), and prints instructions per operation. The baseline, measured in the same run,
is `ping`: a request that crosses the socket, the frame decoder and the event loop and reads one
LMDB record, but does no write transaction. Each figure is also shown as a ratio to it.

Valgrind must be able to run a Swift 6.3 program, which Debian 12's valgrind 3.19 cannot do as is:
  * it cannot read the DWARF 5 debug information of a Swift 6.3 binary, so the script profiles a
    copy with the debug sections removed (`objcopy --strip-debug`; function names stay, from the
    symbol table; source lines go);
  * libdispatch calls `sigsuspend` with a signal mask in read-only memory, which valgrind writes
    into and then dies of SIGSEGV (every version up to 3.27.1), so the script preloads a 5-line
    `sigsuspend` that passes a copy on the stack (Benchmarks/profile/sigsuspend_copy.c).
Exit status: 0 when every cell completed without errors, 1 otherwise, 2 on bad usage.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402

SHIM_SOURCE = os.path.join(HERE, "profile", "sigsuspend_copy.c")
# The daemon moves settled requests to the SQLite ledger once a second (ServerConfiguration's
# `ledgerFlushIntervalMilliseconds`, 1,000); waiting a little longer than that drains them.
LEDGER_FLUSH_WAIT_SECONDS = 1.5
# (label, loadgen mode, connections); ping first: it is the baseline of the ratios.
CELLS = [("ping", "ping", 1), ("authorize", "authorize", 1), ("authorize", "authorize", 64),
         ("authorize+settle", "pair", 1), ("authorize+settle", "pair", 64)]


def build_shim():
    os.makedirs(bench.C_OUT, exist_ok=True)
    shim = os.path.join(bench.C_OUT, "sigsuspend_copy.so")
    if not os.path.exists(shim) or os.path.getmtime(shim) < os.path.getmtime(SHIM_SOURCE):
        command = ["gcc", *bench.CFLAGS, "-shared", "-fPIC", "-o", shim, SHIM_SOURCE]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise bench.BenchError(f"gcc failed for {SHIM_SOURCE}:\n{result.stderr}")
    return shim


def callgrind_totals(path):
    """The `totals:` line of a callgrind dump: instructions executed while counting was on."""
    with open(path) as handle:
        for line in handle:
            if line.startswith("totals:"):
                return int(line.split()[1])
    raise bench.BenchError(f"no totals line in {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--purser-bin", default=os.environ.get("PURSER_BIN", ".build/release/purser"))
    parser.add_argument("--valgrind", default=shutil.which("valgrind") or "valgrind")
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=5.0, help="counted seconds per cell (default 5)")
    parser.add_argument("--startup-timeout", type=float, default=900.0,
                        help="seconds to wait for the policy to load under callgrind (default 900)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures to PATH")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (with the dumps)")
    args = parser.parse_args(argv)
    args.purser_bin = bench.resolve_purser(args.purser_bin)
    if not os.access(args.purser_bin, os.X_OK):
        print(f"instructions: no purser binary at {args.purser_bin}", file=sys.stderr)
        return 2
    valgrind = shutil.which(args.valgrind) or args.valgrind
    control = os.path.join(os.path.dirname(valgrind), "callgrind_control")
    if not os.access(valgrind, os.X_OK) or not os.access(control, os.X_OK):
        print("instructions: valgrind (with callgrind_control beside it) not found; apt-get install -y valgrind",
              file=sys.stderr)
        return 2
    if args.tenants > args.keys or args.keys < 1:
        print("instructions: need 1 <= tenants <= keys", file=sys.stderr)
        return 2

    work = tempfile.mkdtemp(prefix="pinstr-", dir="/tmp")
    daemon = None
    results = []
    failures = []
    try:
        tools = bench.build_c()
        shim = build_shim()
        binary = os.path.join(work, "purser")
        subprocess.run(["objcopy", "--strip-debug", args.purser_bin, binary], check=True)
        policy, keys, _ = bench.write_policy_and_keys(work, args.tenants, args.keys)
        sock, admin_sock = os.path.join(work, "p.sock"), os.path.join(work, "pa.sock")
        dump = os.path.join(work, "callgrind.out")
        command = [valgrind, "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={dump}", binary, "serve",
                   "--policy", policy, "--data", os.path.join(work, "data"), "--socket", sock,
                   "--admin-socket", admin_sock, "--log-level", "warning"]
        bench.log(f"starting purser under callgrind with {args.keys:,} keys (slow: every instruction is simulated)")
        log_path = os.path.join(work, "purser.log")
        with open(log_path, "w") as log_file:
            daemon = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT,
                                      env={**os.environ, "LD_PRELOAD": shim})
        # Under callgrind a ping takes far longer than natively, hence the longer timeouts.
        bench.wait_for_purser(daemon, sock, log_path, time.perf_counter() + args.startup_timeout,
                              args.startup_timeout, poll_seconds=0.5, ping_timeout_seconds=30)

        def loadgen(mode, connections, seconds, prefix):
            result = subprocess.run([tools["loadgen"], "--socket", sock, "--mode", mode, "--connections",
                                     str(connections), "--depth", "1", "--seconds", str(seconds), "--warmup", "0",
                                     "--label", prefix, "--keys", keys, "--model", bench.MODEL,
                                     "--estimate", str(bench.ESTIMATE_MICROS), "--cost", str(bench.COST_MICROS),
                                     "--rid-prefix", prefix], capture_output=True, text=True, timeout=seconds + 120)
            line = next((l for l in reversed(result.stdout.splitlines()) if l.startswith("{")), None)
            if line is None:
                raise bench.BenchError(f"loadgen {mode} printed no result: {result.stderr.strip()}")
            return json.loads(line)

        def control_call(*flags):
            subprocess.run([control, *flags, str(daemon.pid)], check=True, capture_output=True, timeout=120)

        def counted(work_to_count):
            """Instructions the daemon executes while `work_to_count()` runs, and its result."""
            control_call("--zero")
            control_call("--instr=on")
            started = time.monotonic()
            outcome = work_to_count()
            elapsed = time.monotonic() - started
            control_call("--instr=off")
            before = set(os.listdir(work))
            control_call("--dump")
            # The dump is written by the daemon's own thread; wait for the new file to appear whole.
            for _ in range(600):
                new = sorted(set(os.listdir(work)) - before)
                if new and os.path.getsize(os.path.join(work, new[-1])) > 0:
                    break
                time.sleep(0.1)
            else:
                raise bench.BenchError("callgrind wrote no dump")
            time.sleep(0.5)
            return callgrind_totals(os.path.join(work, new[-1])), elapsed, outcome

        # What the daemon executes per second with nothing to do (timers, the sweeper's tick, the
        # ledger's poll): under callgrind a cell completes few operations per second, so this is
        # subtracted from every cell rather than charged to its operations.
        time.sleep(1.0)  # the daemon trims its heap and unmaps the load's pages 200 ms after loading
        idle_instructions, idle_seconds, _ = counted(lambda: time.sleep(args.seconds))
        idle_per_second = idle_instructions / idle_seconds
        bench.log(f"idle: {idle_per_second:,.0f} instructions per second")
        def load_then_ledger(mode, connections, prefix):
            figures = loadgen(mode, connections, args.seconds, prefix)
            # Settled requests reach the SQLite ledger at its next flush (at most
            # LEDGER_FLUSH_WAIT_SECONDS later): count that work too, as part of this cell.
            time.sleep(LEDGER_FLUSH_WAIT_SECONDS)
            return figures

        for index, (label, mode, connections) in enumerate(CELLS):
            loadgen(mode, connections, 1.0, f"w{index}-")  # warm-up, not counted
            time.sleep(LEDGER_FLUSH_WAIT_SECONDS)  # the warm-up's settles reach the ledger, uncounted
            instructions, elapsed, figures = counted(lambda: load_then_ledger(mode, connections, f"m{index}-"))
            operations = figures["completed"] * (2 if mode == "pair" else 1)
            if figures["errors"] or figures["denied"] or operations == 0:
                failures.append(f"{label} {connections} conn: errors {figures['errors']}, denied {figures['denied']}, "
                                f"completed {figures['completed']}")
            working = max(0.0, instructions - idle_per_second * elapsed)
            results.append({"label": label, "mode": mode, "connections": connections, "operations": operations,
                            "instructions": instructions, "seconds": elapsed,
                            "instructions_per_operation": working / operations if operations else None,
                            "idle_share": idle_per_second * elapsed / instructions if instructions else None})
            bench.log(f"{label}, {connections} conn: {operations:,} operations, "
                      f"{results[-1]['instructions_per_operation'] or 0:,.0f} instructions each")
    except (bench.BenchError, OSError, subprocess.SubprocessError) as error:
        print(f"instructions: {error}", file=sys.stderr)
        return 1
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.terminate()
            try:
                daemon.wait(timeout=120)
            except subprocess.TimeoutExpired:
                daemon.kill()
        if args.keep:
            bench.log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    baseline = results[0]["instructions_per_operation"]
    print(f"Instructions per operation in purser serve, counted by callgrind ({args.keys:,} keys, "
          f"{args.seconds:g} s per cell; user space only)")
    print(f"{'scenario':<20}{'conns':>6}{'operations':>12}{'instructions/op':>17}{'/ ping':>9}{'idle share':>12}")
    for row in results:
        per = row["instructions_per_operation"]
        ratio = f"{per / baseline:.2f}x" if per and baseline else "-"
        print(f"{row['label']:<20}{row['connections']:>6}{row['operations']:>12,}{per or 0:>17,.0f}{ratio:>9}"
              f"{100 * (row['idle_share'] or 0):>11.0f}%")
    print(f"Idle: {idle_per_second:,.0f} instructions per second, subtracted from each cell for its duration "
          "(idle share: how much of the cell's count that was).")
    print("authorize+settle rows count an authorize and a settle as two operations.")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"keys": args.keys, "seconds": args.seconds, "idle_instructions_per_second": idle_per_second,
                       "cells": results}, handle, indent=1)
    if failures:
        print("\nPROBLEMS:\n  " + "\n  ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
