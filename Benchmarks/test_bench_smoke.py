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

    # The raw results agree: every cell completed requests without errors, and its latencies are an
    # HdrHistogram holding every completed request, whose median is the reported p50.
    data = json.loads(raw.read_text())
    cells = []
    for mode, connections, depth in bench.SCENARIOS:
        for system in ("purser", "redis"):
            cell = data[system][0]["scenarios"][f"{mode} {connections} {depth}"]
            assert cell["completed"] > 0 and cell["errors"] == 0 and cell["denied"] == 0, (system, mode, cell)
            cells.append(cell)
            if mode == "pair":
                cells += [cell["authorize"], cell["settle"]]
        if mode == "pair":
            assert data["purser"][0]["scenarios"][f"pair {connections} {depth}"]["settle"]["count"] > 0
    for connections, depth in bench.SHAPES:
        assert data["floor"][0][f"{connections} {depth}"]["completed"] > 0
        cells.append(data["floor"][0][f"{connections} {depth}"])
    HdrHistogram = bench.hdr_histogram_class()
    for cell in cells:
        histogram = HdrHistogram.decode(cell["hdr_histogram"])
        assert histogram.get_total_count() == cell["count"] > 0
        assert histogram.get_value_at_percentile(50) / 1e3 == cell["p50_us"]
        assert "hdr_ns" not in cell


def test_loadgen_histogram_is_an_hdr_histogram():
    """loadgen's buckets and percentiles, value by value, against the reference HdrHistogram."""
    if not shutil.which("gcc"):
        pytest.skip("gcc is not installed: the load generator is a C program")
    loadgen = bench.build_c()["loadgen"]
    HdrHistogram = bench.hdr_histogram_class()
    reference = HdrHistogram(bench.HDR_LOWEST_NS, bench.HDR_HIGHEST_NS, bench.HDR_SIGNIFICANT_FIGURES)
    # Every magnitude from 1 ns to an hour, each power of two's edges, and a spread in between.
    values = sorted({v for e in range(42) for v in ((1 << e) - 1, 1 << e, (1 << e) + 1, (3 << e) // 2)} - {0})
    values = [v for v in values if v <= bench.HDR_HIGHEST_NS] + [37_123 * i for i in range(1, 2000)]
    for value in values:
        reference.record_value(value)
    result = subprocess.run([loadgen, "--record-stdin"], input="\n".join(map(str, values)), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    expected = {}
    for value in values:
        lowest = reference.get_lowest_equivalent_value(value)
        expected[lowest] = expected.get(lowest, 0) + 1
    assert [tuple(bucket) for bucket in figures["hdr_ns"]] == sorted(expected.items())
    for percentile, name in bench.HDR_PERCENTILES:
        assert figures[name] == reference.get_value_at_percentile(percentile) / 1e3, name
    # bench.py accepts these buckets, and refuses one that is not an HdrHistogram bucket.
    bench.record_latencies(figures, "reference")
    assert HdrHistogram.decode(figures["hdr_histogram"]).get_total_count() == len(values)
    with pytest.raises(bench.BenchError):
        bench.record_latencies({"count": 1, "hdr_ns": [[2049, 1]], "p50_us": 0.002, "p90_us": 0.002,
                                "p99_us": 0.002, "p999_us": 0.002}, "off-boundary")


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


def test_instruction_counts_cover_every_cell(tmp_path):
    """`instructions.py` end to end on a small policy: every cell is counted, and an authorize (a
    write transaction and its commit) executes more instructions than a ping (one read)."""
    if not shutil.which("valgrind") or not shutil.which("objcopy"):
        pytest.skip("valgrind is not installed (apt-get install -y valgrind): instructions.py counts with callgrind")
    if not shutil.which("gcc"):
        pytest.skip("gcc is not installed: the load generator and the sigsuspend shim are C")
    binary = purser_binary()
    raw = tmp_path / "instructions.json"
    # 4 s per cell: under callgrind a debug build's first round of 64 pairs (each settle waiting for
    # an fdatasync) took more than 2 s once in CI, and a cell that completes nothing fails the run.
    result = subprocess.run([sys.executable, os.path.join(HERE, "instructions.py"), "--purser-bin", binary,
                             "--keys", "200", "--tenants", "20", "--seconds", "4", "--json", str(raw)],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"instructions.py failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    data = json.loads(raw.read_text())
    cells = {(cell["mode"], cell["connections"]): cell for cell in data["cells"]}
    assert set(cells) == {(mode, connections) for _, mode, connections in instructions_cells()}
    for cell in cells.values():
        assert cell["operations"] > 0 and cell["instructions_per_operation"] > 0, cell
    assert cells[("authorize", 1)]["instructions_per_operation"] > cells[("ping", 1)]["instructions_per_operation"]
    assert data["idle_instructions_per_second"] > 0
    assert "instructions/op" in result.stdout and "/ ping" in result.stdout


def instructions_cells():
    import instructions  # noqa: E402 (Benchmarks/ is on sys.path above)
    return instructions.CELLS
