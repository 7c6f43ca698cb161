"""`bench.py --smoke` end to end: the floor, Purser and Redis each measured in every scenario.

Uses $PURSER_BIN, else .build/debug/purser. Skips when redis-server or gcc is not installed, or
when no purser binary was built (unless PURSER_BIN names one, which must then exist).
"""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import bench  # noqa: E402

SHAPE_LABELS = {(1, 1): "1 conn", (64, 1): "64 conns", (1, 64): "1 conn, 64 deep"}
TITLES = {"authorize": "authorize", "pair": "authorize+settle"}
NUMBER = r"[0-9][0-9,.]*"


def purser_binary():
    explicit = os.environ.get("PURSER_BIN")
    binary = explicit or os.path.join(ROOT, ".build", "debug", "purser")
    if not os.access(binary, os.X_OK):
        if explicit:
            pytest.fail(f"PURSER_BIN={explicit} is not an executable")
        pytest.skip(f"no purser binary at {binary}: build it first (swift build --product purser) or set PURSER_BIN")
    return binary


def test_smoke_measures_every_scenario_on_all_three_systems(tmp_path):
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed (apt-get install -y redis-server): the smoke run needs the Redis peer")
    if not shutil.which("gcc"):
        pytest.skip("gcc is not installed: the floor server and the load generator are C programs")
    binary = purser_binary()
    raw = tmp_path / "results.json"
    result = subprocess.run([sys.executable, os.path.join(HERE, "bench.py"), "--smoke", "--purser-bin", binary,
                             "--json", str(raw)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"bench.py --smoke failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    lines = result.stdout.splitlines()

    # Every scenario has its three rows, each with four figures, and the Purser row its ratios.
    for mode, connections, depth in bench.SCENARIOS:
        title, shape = TITLES[mode], SHAPE_LABELS[(connections, depth)]
        starts = [i for i, line in enumerate(lines)
                  if line.startswith(title + " ") and lines[i + 1].startswith(shape + " ") and " floor " in line]
        assert len(starts) == 1, f"no single row group for {title} / {shape} in:\n{result.stdout}"
        rows = lines[starts[0]:starts[0] + 3]
        for row, system in zip(rows, ("floor", "purser", "redis")):
            assert re.search(rf"\b{system}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}", row), \
                f"{system} figures missing for {title} / {shape}: {row!r}"
        assert re.search(rf"{NUMBER}x\s+{NUMBER}x\s+{NUMBER}x", rows[1]), f"ratios missing: {rows[1]!r}"

    for extra in ("Purser ping, 1 conn", "Settle durable ack", "Group commit, mean operations per commit",
                  "Purser RSS with", "Purser start-up with", "Load generator CPU", "unpinned"):
        assert extra in result.stdout, f"{extra!r} missing from:\n{result.stdout}"

    # The raw results agree: every cell completed requests without errors.
    data = json.loads(raw.read_text())
    for mode, connections, depth in bench.SCENARIOS:
        for system in ("purser", "redis"):
            cell = data[system][0]["scenarios"][f"{mode} {connections} {depth}"]
            assert cell["completed"] > 0 and cell["errors"] == 0 and cell["denied"] == 0, (system, mode, cell)
        if mode == "pair":
            assert data["purser"][0]["scenarios"][f"pair {connections} {depth}"]["settle"]["count"] > 0
    for connections, depth in bench.SHAPES:
        assert data["floor"][0][f"{connections} {depth}"]["completed"] > 0
    assert data["purser"][0]["rss_after_load_kib"] > 0 and data["purser"][0]["reload_ms"] is not None


def test_store_bench_reports_store_and_floor_per_operation(tmp_path):
    binary = purser_binary()
    policy, keys, _ = bench.write_policy_and_keys(str(tmp_path), 100, 1_000)
    result = subprocess.run([binary, "bench", "store", "--policy", policy, "--keys", keys, "--batches", "20",
                             "--runs", "1"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    match = re.search(r"median of 1 runs \(20 batches of 64, 1000 keys\): StateStore authorize ([0-9.]+) µs/op, "
                      r"LMDB floor ([0-9.]+) µs/op, ratio ([0-9.]+)", result.stdout)
    assert match, result.stdout
    store, floor, ratio = (float(value) for value in match.groups())
    assert store > 0 and floor > 0 and abs(ratio - store / floor) < 0.01 * ratio + 0.01
