#!/usr/bin/env python3
"""`make bench`: Purser against the machine's socket floor and a Redis peer, side by side, in one run.

    python3 Benchmarks/bench.py [--purser-bin PATH] [--seconds 10] [--runs 3] [--pin] [--smoke]

For each run it measures, with the C load generator (Benchmarks/loadgen/loadgen.c):
  * Purser (`purser serve`, fresh data directory, a generated policy of 10,000 tenants and 100,000
    keys): start-up, RSS, reload, then authorize and authorize+settle pairs at 1 connection,
    64 connections, and 1 connection pipelining 64 deep, with the daemon's group-commit counters;
  * the floor: Benchmarks/floor/echo_server.c, with Purser's frame sizes, at the same shapes;
  * the peer: Redis 7 (appendonly yes, appendfsync everysec) on a Unix socket, running Lua scripts
    that do the same work (EVALSHA), with the same keys and shapes.
It prints one table of medians over --runs runs; Benchmarks/README.md explains every number.
Exit status: 0 when every measurement completed without errors, 1 otherwise, 2 on bad usage.
"""
import argparse
import contextlib
import datetime
import hashlib
import json
import os
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
C_OUT = os.path.join(ROOT, ".build-bench", "c")
CFLAGS = ["-O2", "-Wall", "-Wextra", "-Werror"]

# (mode, connections, depth): the rows of the table, in order.
SHAPES = [(1, 1), (64, 1), (1, 64)]
SCENARIOS = [("authorize", c, d) for c, d in SHAPES] + [("pair", c, d) for c, d in SHAPES]

MODEL = "gpt-5.4-mini"
ESTIMATE_MICROS = 1_000
# Service times of the echo server's extra 1-connection runs (`echo_server -w`).
FLOOR_WORK_MICROSECONDS = (50, 100)
# Random pages per fdatasync of the disk floor (`fsync_floor -p`).
DISK_FLOOR_PAGES_PER_FSYNC = (8, 400)
COST_MICROS = 800
CAP_MICROS = 1_000_000_000_000_000  # the largest cap a policy admits; never reached
KEY_RPM = 10_000_000                # far above what one key sees here: never denies
TENANT_RPM = 1_000_000_000

TARGETS = {
    "authorize_p50_vs_floor": 1.5,   # authorize p50 <= 1.5x floor p50 at 1 connection
    "pair64_vs_floor": 0.5,          # authorize throughput >= 0.5x floor at 64 connections, settles durable
    "vs_redis": 2.0,                 # >= 2x Redis throughput on the same work
    "rss_mib": 64,                   # RSS <= 64 MiB with 100,000 keys
    "reload_s": 1.0,                 # reload <= 1 s for 100,000 keys
}

REDIS_AUTHORIZE = r"""
-- ARGV: sha256 of the key secret (hex), estimate micros, request id
local info = redis.call('HGET', 'purser:keys', ARGV[1])
if not info then return 'D:unknown_key' end
local kid, tid, krpm, trpm, kcap, tcap = string.match(info, '^(%S+) (%S+) (%d+) (%d+) (%d+) (%d+)$')
local est = tonumber(ARGV[2])
-- idempotency: the same key and request id returns the first answer
local idem = 'idem:' .. kid .. ':' .. ARGV[3]
local prior = redis.call('GET', idem)
if prior then return 'R:' .. prior end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
-- GCRA (a token bucket): a limit of L per minute admits a burst of L, then one every 60 s / L
local function gcra(name, rpm)
  local interval = math.floor(60000000 / rpm)
  if interval < 1 then interval = 1 end
  local tat = tonumber(redis.call('GET', name) or '0')
  if tat < now then tat = now end
  if tat + interval - now > 60000000 then return nil end
  return tat + interval
end
local ktat = gcra('gcra:k:' .. kid, tonumber(krpm))
if not ktat then return 'D:rate_limited' end
local ttat = gcra('gcra:t:' .. tid, tonumber(trpm))
if not ttat then return 'D:rate_limited' end
-- caps: spent + reserved + estimate <= cap, for the key and for the tenant
local ks, ts = 'spend:k:' .. kid, 'spend:t:' .. tid
local kv = redis.call('HMGET', ks, 'spent', 'reserved')
if (tonumber(kv[1]) or 0) + (tonumber(kv[2]) or 0) + est > tonumber(kcap) then return 'D:budget_exceeded' end
local tv = redis.call('HMGET', ts, 'spent', 'reserved')
if (tonumber(tv[1]) or 0) + (tonumber(tv[2]) or 0) + est > tonumber(tcap) then return 'D:budget_exceeded' end
-- commit: rate-limit state, reservations in both scopes, the reservation record, the idempotency record
redis.call('SET', 'gcra:k:' .. kid, string.format('%d', ktat))
redis.call('SET', 'gcra:t:' .. tid, string.format('%d', ttat))
redis.call('HINCRBY', ks, 'reserved', est)
redis.call('HINCRBY', ts, 'reserved', est)
local id = 'rsv_' .. redis.call('INCR', 'purser:rsv_seq')
redis.call('HSET', 'rsv:' .. id, 'key', kid, 'tenant', tid, 'estimate', est, 'state', 'open')
redis.call('SET', idem, id, 'EX', 86400)
return 'A:' .. id
"""

REDIS_SETTLE = r"""
-- ARGV: reservation id, cost micros. Idempotent: a second settle charges nothing.
local r = 'rsv:' .. ARGV[1]
local v = redis.call('HMGET', r, 'key', 'tenant', 'estimate', 'state', 'cost')
if not v[1] then return redis.error_reply('unknown_reservation') end
if v[4] == 'settled' then return 'R:' .. v[5] end
local cost, est = tonumber(ARGV[2]), tonumber(v[3])
local ks, ts = 'spend:k:' .. v[1], 'spend:t:' .. v[2]
redis.call('HINCRBY', ks, 'reserved', -est)
redis.call('HINCRBY', ks, 'spent', cost)
redis.call('HINCRBY', ts, 'reserved', -est)
redis.call('HINCRBY', ts, 'spent', cost)
redis.call('HSET', r, 'state', 'settled', 'cost', cost)
return 'S:' .. cost
"""


class BenchError(Exception):
    pass


# Latency histograms: loadgen keeps HdrHistogram's buckets (1 ns to one hour, 3 significant
# figures) and prints the populated ones; they are recorded here into the reference HdrHistogram
# (PyPI `hdrhistogram`), whose percentiles are the ones reported.
HDR_LOWEST_NS, HDR_HIGHEST_NS, HDR_SIGNIFICANT_FIGURES = 1, 3_600_000_000_000, 3
HDR_PERCENTILES = ((50, "p50_us"), (90, "p90_us"), (99, "p99_us"), (99.9, "p999_us"))
HDR_INSTALL = "python3 -m pip install hdrhistogram"


def hdr_histogram_class():
    try:
        from hdrh.histogram import HdrHistogram
    except ImportError:
        return None
    return HdrHistogram


def record_latencies(figures, label):
    """Records loadgen's buckets (`hdr_ns`) into an HdrHistogram, in place of loadgen's own
    percentiles, and keeps the histogram in HdrHistogram's compressed text form (`hdr_histogram`,
    readable by any HdrHistogram implementation). loadgen computes its percentiles the same way
    from the same buckets; a difference means the two layouts disagree, which is an error."""
    histogram_class = hdr_histogram_class()
    histogram = histogram_class(HDR_LOWEST_NS, HDR_HIGHEST_NS, HDR_SIGNIFICANT_FIGURES)
    for value, count in figures.pop("hdr_ns"):
        if histogram.get_lowest_equivalent_value(value) != value:
            raise BenchError(f"{label}: loadgen bucket {value} ns is not an HdrHistogram bucket boundary")
        histogram.record_value(value, count)
    if histogram.get_total_count() != figures["count"]:
        raise BenchError(f"{label}: HdrHistogram holds {histogram.get_total_count()} values, loadgen counted {figures['count']}")
    for percentile, name in HDR_PERCENTILES:
        microseconds = histogram.get_value_at_percentile(percentile) / 1e3
        if abs(microseconds - figures[name]) > 0.0015:
            raise BenchError(f"{label}: HdrHistogram p{percentile} {microseconds} us, loadgen {figures[name]} us")
        figures[name] = microseconds
    figures["hdr_histogram"] = histogram.encode().decode("ascii")


def log(message):
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- building the C programs ----------------------------------------------------------------------


def build_c():
    os.makedirs(C_OUT, exist_ok=True)
    programs = {
        "echo_server": (os.path.join(HERE, "floor", "echo_server.c"), []),
        "loadgen": (os.path.join(HERE, "loadgen", "loadgen.c"), ["-pthread", "-lm"]),
        "fsync_floor": (os.path.join(HERE, "floor", "fsync_floor.c"), []),
    }
    paths = {}
    for name, (source, libs) in programs.items():
        binary = os.path.join(C_OUT, name)
        if not os.path.exists(binary) or os.path.getmtime(binary) < os.path.getmtime(source):
            command = ["gcc", *CFLAGS, "-o", binary, source, *libs]
            log("building " + " ".join(os.path.relpath(a, ROOT) if a.startswith(ROOT) else a for a in command))
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0:
                raise BenchError(f"gcc failed for {source}:\n{result.stderr}")
        paths[name] = binary
    return paths


# --- the policy and keys --------------------------------------------------------------------------


def secret_of(index):
    return "pk_live_" + hashlib.sha256(f"purser-bench-{index}".encode()).hexdigest()[:24]


def write_policy_and_keys(work, tenants, keys):
    """A realistic policy: 3 plans, `tenants` tenants, `keys` keys (keys / tenants per tenant), every
    limit far above the benchmark's load and every cap out of reach, so the allow path is measured."""
    policy_path = os.path.join(work, "policy.yaml")
    keys_path = os.path.join(work, "keys.txt")
    redis_rows = []
    plans = ["starter", "pro", "enterprise"]
    lines = [
        "version: 1",
        "defaults: { reservation_ttl: 10m, reservation_retention: 24h }",
        "prices:",
        "  gpt-5.4: { input: 1250000, output: 10000000 }",
        "  gpt-5.4-mini: { input: 250000, output: 2000000 }",
        "  claude-sonnet-4-6: { input: 3000000, output: 15000000 }",
        "plans:",
        f"  starter: {{ models: ['gpt-5.4-mini'], rate_limits: {{ rpm: {TENANT_RPM} }}, "
        f"budgets: [ {{ period: month, cap_micros: {CAP_MICROS} }} ] }}",
        f"  pro: {{ models: ['gpt-5.4*', 'claude-*'], rate_limits: {{ rpm: {TENANT_RPM}, tpm: 1000000000000 }} }}",
        f"  enterprise: {{ models: ['*'], rate_limits: {{ rpm: {TENANT_RPM} }} }}",
        "tenants:",
    ]
    for t in range(tenants):
        lines.append(f"  t{t:05d}: {{ plan: {plans[t % 3]}, budgets: [ {{ period: month, cap_micros: {CAP_MICROS} }} ] }}")
    lines.append("keys:")
    with open(keys_path, "w") as keys_file:
        for k in range(keys):
            secret = secret_of(k)
            digest = hashlib.sha256(secret.encode()).hexdigest()
            tenant = f"t{k % tenants:05d}"
            key_id = f"k{k:06d}"
            lines.append(
                f"  - {{ id: {key_id}, tenant: {tenant}, sha256: \"{digest}\", default_tag: {'prod' if k % 2 else 'dev'}, "
                f"rate_limits: {{ rpm: {KEY_RPM} }}, budgets: [ {{ period: total, cap_micros: {CAP_MICROS} }} ] }}")
            keys_file.write(f"{secret} {digest}\n")
            redis_rows.append((digest, f"{key_id} {tenant} {KEY_RPM} {TENANT_RPM} {CAP_MICROS} {CAP_MICROS}"))
    with open(policy_path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return policy_path, keys_path, redis_rows


# --- Purser's wire protocol, just enough for the admin socket -----------------------------------


PURSER_STATUS_NAMES = {4: "plans", 5: "tenants", 6: "keys", 7: "uptime_ms", 8: "connections", 9: "outbox_depth",
                       11: "batches_committed", 12: "operations_committed", 13: "syncs"}


def status_field_names():
    """Tag -> name for the status reply, from the Python client when it knows more fields."""
    names = dict(PURSER_STATUS_NAMES)
    try:
        sys.path.insert(0, os.path.join(ROOT, "clients", "python"))
        from purser_client import protocol  # noqa: E402
        for spec in protocol.FIELDS.get("status_reply", ()):
            names[spec.tag] = spec.name
    except Exception:  # noqa: BLE001 - the built-in names suffice
        pass
    return names


class PurserAdmin:
    def __init__(self, path, timeout=120.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.cid = 0
        self.names = status_field_names()

    def close(self):
        self.sock.close()

    def _recv_exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise BenchError("purser closed the admin connection")
            data += chunk
        return data

    def call(self, message_type):
        self.cid += 1
        payload = struct.pack(">BBQ", 1, message_type, self.cid)
        self.sock.sendall(struct.pack(">I", len(payload)) + payload)
        length = struct.unpack(">I", self._recv_exact(4))[0]
        body = self._recv_exact(length)
        reply_type = body[1]
        fields = []
        pos = 10
        while pos + 4 <= len(body):
            tag, size = struct.unpack(">HH", body[pos:pos + 4])
            fields.append((tag, body[pos + 4:pos + 4 + size]))
            pos += 4 + size
        if reply_type == 0x7F:
            text = {tag: value.decode(errors="replace") for tag, value in fields}
            raise BenchError(f"purser answered error {text.get(1)}: {text.get(2, '')}")
        return reply_type, fields

    def ping(self):
        self.call(0x04)

    @staticmethod
    def _value(raw):
        return struct.unpack(">q", raw)[0] if len(raw) == 8 else raw.decode(errors="replace")

    def status(self):
        _, fields = self.call(0x12)
        result = {}
        for tag, raw in fields:
            name = self.names.get(tag, f"tag_{tag}")
            value = self._value(raw)
            if name in result:  # a repeated field
                result[name] = (result[name] if isinstance(result[name], list) else [result[name]]) + [value]
            else:
                result[name] = value
        return result

    def reload(self):
        _, fields = self.call(0x10)
        values = {tag: self._value(raw) for tag, raw in fields}
        return {"keys": values.get(4), "duration_us": values.get(5)}


def wait_for_purser(daemon, sock, log_path, deadline, timeout_seconds, poll_seconds, ping_timeout_seconds=5):
    """Returns once the daemon answers `ping` on `sock`; raises BenchError with the tail of its
    log if it exits first, or once `time.perf_counter()` passes `deadline`."""
    while True:
        if daemon.poll() is not None:
            with open(log_path) as log_file:
                tail = log_file.read()[-2000:]
            raise BenchError(f"purser exited with {daemon.returncode} at start-up; see {log_path}:\n{tail}")
        try:
            probe = PurserAdmin(sock, timeout=ping_timeout_seconds)
            probe.ping()
            probe.close()
            return
        except (OSError, BenchError):
            if time.perf_counter() > deadline:
                raise BenchError(f"purser did not answer ping within {timeout_seconds} s")
            time.sleep(poll_seconds)


def thread_cpu_ticks(pid):
    """{tid: (thread name, CPU clock ticks user + system)} of the threads of `pid`."""
    ticks = {}
    try:
        tids = sorted(os.listdir(f"/proc/{pid}/task"), key=int)
    except OSError:
        return ticks
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        ticks[int(tid)] = (stat[stat.index("(") + 1:stat.rindex(")")], int(fields[11]) + int(fields[12]))
    return ticks


def thread_cpu_pct(before, after, seconds):
    """{label: % of one CPU} per thread between two snapshots, busiest first. Threads sharing a name
    (Foundation threads are all `oot.default-qos` on Linux) are told apart by creation order: `name[2]`."""
    tick = os.sysconf("SC_CLK_TCK")
    seen, usage = {}, {}
    for tid, (name, ticks) in sorted(after.items()):
        seen[name] = seen.get(name, 0) + 1
        label = name if sum(1 for n, _ in after.values() if n == name) == 1 else f"{name}[{seen[name]}]"
        pct = 100.0 * (ticks - before.get(tid, (name, 0))[1]) / tick / seconds
        if pct >= 0.5:
            usage[label] = pct
    return dict(sorted(usage.items(), key=lambda item: -item[1]))


def cpu_times():
    """The machine's `cpu` line of /proc/stat: jiffies by kind (user, nice, system, idle, iowait,
    irq, softirq, steal, ...), or None where there is no /proc/stat."""
    try:
        with open("/proc/stat") as handle:
            for line in handle:
                if line.startswith("cpu "):
                    return [int(field) for field in line.split()[1:]]
    except (OSError, ValueError):
        pass
    return None


def steal_pct(before, after):
    """% of all CPU time the hypervisor took from this VM between two `cpu_times()`: on a shared
    host the same binary measures very differently as this rises."""
    if not before or not after or len(before) < 8 or len(after) < 8:
        return None
    total = sum(after[:8]) - sum(before[:8])
    return 100.0 * (after[7] - before[7]) / total if total > 0 else None


def disk_sectors_written(path):
    """Sectors (512 bytes) written so far to the block device holding `path`, from /proc/diskstats:
    what reached the disk, whoever wrote it (the runs are alone on the machine), not what the kernel
    accounts per process (it charges whole large folios for a 4 KiB write)."""
    device = os.stat(path).st_dev
    major, minor = os.major(device), os.minor(device)
    try:
        with open("/proc/diskstats") as handle:
            for line in handle:
                fields = line.split()
                if int(fields[0]) == major and int(fields[1]) == minor:
                    return int(fields[9])
    except (OSError, ValueError, IndexError):
        pass
    return None


def rss_kib(pid):
    values = {}
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith(("VmRSS:", "VmHWM:", "RssAnon:", "RssFile:")):
                name, amount = line.split(":")
                values[name] = int(amount.split()[0])
    return values


# --- Redis ---------------------------------------------------------------------------------------


def resp_command(*args):
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class RedisConnection:
    def __init__(self, path, timeout=30.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buffer = b""

    def close(self):
        self.sock.close()

    def _line(self):
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise BenchError("redis closed the connection")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise BenchError("redis error: " + rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            while len(self.buffer) < size + 2:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise BenchError("redis closed the connection")
                self.buffer += chunk
            data, self.buffer = self.buffer[:size], self.buffer[size + 2:]
            return data.decode()
        if kind == b"*":
            return [self._reply() for _ in range(int(rest))]
        raise BenchError(f"unexpected redis reply {line!r}")

    def call(self, *args):
        self.sock.sendall(resp_command(*args))
        return self._reply()

    def pipeline(self, commands):
        self.sock.sendall(b"".join(resp_command(*c) for c in commands))
        return [self._reply() for _ in commands]


# --- processes ----------------------------------------------------------------------------------


class Bench:
    def __init__(self, args, tools):
        self.args = args
        self.tools = tools
        self.server_prefix = ["taskset", "-c", args.server_cpus] if args.pin else []
        self.client_prefix = ["taskset", "-c", args.client_cpus] if args.pin else []
        self.failures = []

    def loadgen(self, label, socket_path, mode, connections, depth, extra=(), seconds=None, warmup=None):
        seconds = self.args.seconds if seconds is None else seconds
        warmup = self.args.warmup if warmup is None else warmup
        command = [*self.client_prefix, self.tools["loadgen"], "--socket", socket_path, "--mode", mode,
                   "--connections", str(connections), "--depth", str(depth), "--seconds", str(seconds),
                   "--warmup", str(warmup), "--label", label, *extra]
        result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + warmup + 60)
        line = next((l for l in reversed(result.stdout.splitlines()) if l.startswith("{")), None)
        if line is None:
            raise BenchError(f"loadgen {label} printed no result (exit {result.returncode}): {result.stderr.strip()}")
        data = json.loads(line)
        record_latencies(data, label)
        for half in ("authorize", "settle"):
            if half in data:
                record_latencies(data[half], f"{label} ({half})")
        if data["errors"] or data["denied"] or data["dead_connections"] or not data["drained"] or data["completed"] == 0:
            problem = (f"{label}: errors {data['errors']}, denied {data['denied']}, dead connections "
                       f"{data['dead_connections']}, drained {data['drained']}, completed {data['completed']}; "
                       f"first: {data['first_error'] or '-'}")
            log("PROBLEM " + problem)
            self.failures.append(problem)
        log(f"{label}: p50 {data['p50_us']:.1f} us, p99 {data['p99_us']:.1f} us, {data['throughput']:,.0f}/s")
        return data

    def spawn(self, command, **kwargs):
        return subprocess.Popen([*self.server_prefix, *command], **kwargs)

    @staticmethod
    def stop(process, timeout=30):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    # --- the floor ---

    def run_floor(self, work, request_bytes, reply_bytes):
        sock = os.path.join(work, "echo.sock")
        results = {}
        with self.echo_server(sock, reply_bytes):
            for connections, depth in SHAPES:
                results[(connections, depth)] = self.loadgen(
                    f"floor {connections}x{depth}", sock, "echo", connections, depth,
                    ["--request-bytes", str(request_bytes)])
        # The disk: random 4 KiB pages made durable per second, as many per fdatasync as a busy
        # and an idle daemon dirty (a pairs batch under 64 connections; one pair at 1 connection).
        results["disk"] = {}
        for pages in DISK_FLOOR_PAGES_PER_FSYNC:
            command = [self.tools["fsync_floor"], "-f", os.path.join(work, "fsync-floor.dat"), "-p", str(pages),
                       "-r", "10" if self.args.smoke else "30", "-m", "16" if self.args.smoke else "256"]
            completed = subprocess.run([*self.server_prefix, *command], capture_output=True, text=True)
            if completed.returncode != 0:
                raise BenchError(f"fsync_floor failed: {completed.stderr.strip()}")
            results["disk"][pages] = json.loads(completed.stdout.strip().splitlines()[-1])
            log(f"disk floor, {pages} random pages per fdatasync: p50 {results['disk'][pages]['fsync_p50_us']:.0f} us, "
                f"{results['disk'][pages]['pages_per_second']:,.0f} pages/s")
        # The same server spinning a fixed time per request, 1 connection: how much a round trip
        # grows with service time alone on this machine (an idle vCPU wakes slowly).
        results["work"] = {}
        for microseconds in FLOOR_WORK_MICROSECONDS:
            with self.echo_server(sock, reply_bytes, work_microseconds=microseconds):
                results["work"][microseconds] = self.loadgen(
                    f"floor +{microseconds} us work 1x1", sock, "echo", 1, 1, ["--request-bytes", str(request_bytes)])
        return results

    @contextlib.contextmanager
    def echo_server(self, sock, reply_bytes, work_microseconds=0):
        server = self.spawn([self.tools["echo_server"], "-s", sock, "-r", str(reply_bytes), "-w", str(work_microseconds)],
                            stdout=subprocess.PIPE, text=True)
        try:
            if server.stdout.readline().strip() != "ready":
                raise BenchError("echo_server did not start")
            yield
        finally:
            self.stop(server)

    # --- Purser ---

    def run_purser(self, work, policy_path, keys_path, run_index):
        data_dir = os.path.join(work, f"purser-data-{run_index}")
        sock, admin_sock = os.path.join(work, "p.sock"), os.path.join(work, "pa.sock")
        command = [self.args.purser_bin, "serve", "--policy", policy_path, "--data", data_dir, "--socket", sock,
                   "--admin-socket", admin_sock, "--log-level", "warning"]
        log_path = os.path.join(work, f"purser-{run_index}.log")
        out = {"scenarios": {}, "batches": {}}
        if run_index == 0:
            # Parsing and validating alone (no LMDB), to split the start-up time.
            started = time.perf_counter()
            check = subprocess.run([*self.server_prefix, self.args.purser_bin, "check-policy", policy_path],
                                   capture_output=True, text=True)
            out["check_policy_ms"] = (time.perf_counter() - started) * 1000
            if check.returncode != 0:
                raise BenchError(f"purser check-policy refused the generated policy:\n{check.stdout[-2000:]}{check.stderr[-2000:]}")
        with open(log_path, "w") as log_file:
            started = time.perf_counter()
            daemon = self.spawn(command, stdout=log_file, stderr=subprocess.STDOUT)
            try:
                admin = None
                deadline = started + self.args.startup_timeout
                wait_for_purser(daemon, sock, log_path, deadline, self.args.startup_timeout, poll_seconds=0.002)
                out["startup_ms"] = (time.perf_counter() - started) * 1000
                memory = rss_kib(daemon.pid)
                out["rss_after_load_kib"] = memory["VmRSS"]
                out["rss_anon_after_load_kib"], out["rss_file_after_load_kib"] = memory.get("RssAnon"), memory.get("RssFile")
                admin = PurserAdmin(admin_sock)
                status = admin.status()
                out["server_version"] = status.get("server_version")
                out["policy_keys"] = status.get("keys")
                reload_started = time.perf_counter()
                reload = admin.reload()
                out["reload_wall_ms"] = (time.perf_counter() - reload_started) * 1000
                out["reload_ms"] = reload["duration_us"] / 1000 if reload["duration_us"] is not None else None
                # The daemon hands the parse's freed memory back to the OS (malloc_trim) 200 ms
                # after the reload is answered; measure the steady state, not that transient.
                time.sleep(1.0)
                memory = rss_kib(daemon.pid)
                out["rss_after_reload_kib"] = memory["VmRSS"]
                out["rss_anon_after_reload_kib"], out["rss_file_after_reload_kib"] = memory.get("RssAnon"), memory.get("RssFile")
                common = ["--keys", keys_path, "--model", MODEL, "--estimate", str(ESTIMATE_MICROS),
                          "--cost", str(COST_MICROS)]
                out["ping"] = self.loadgen("purser ping 1x1", sock, "ping", 1, 1)
                for mode, connections, depth in SCENARIOS:
                    label = f"purser {mode} {connections}x{depth}"
                    before, cpu_before, wall_before = admin.status(), thread_cpu_ticks(daemon.pid), time.perf_counter()
                    sectors_before = disk_sectors_written(data_dir)
                    result = self.loadgen(label, sock, mode, connections, depth,
                                          common + ["--rid-prefix", f"b{run_index}{mode[0]}{connections}x{depth}"])
                    cpu_after, wall_after, after = thread_cpu_ticks(daemon.pid), time.perf_counter(), admin.status()
                    sectors_after = disk_sectors_written(data_dir)
                    if sectors_before is not None and sectors_after is not None:
                        # The sectors cover the warm-up too, which runs at about the measured rate.
                        requests = result["throughput"] * (self.args.warmup + self.args.seconds)
                        result["disk_bytes_per_request"] = (sectors_after - sectors_before) * 512 / max(1.0, requests)
                    out["scenarios"][(mode, connections, depth)] = result
                    out["batches"][(mode, connections, depth)] = batch_figures(before, after)
                    out.setdefault("threads", {})[(mode, connections, depth)] = thread_cpu_pct(
                        cpu_before, cpu_after, wall_after - wall_before)
                memory = rss_kib(daemon.pid)
                out["rss_after_runs_kib"], out["hwm_kib"] = memory["VmRSS"], memory["VmHWM"]
                admin.close()
            finally:
                self.stop(daemon)
        if daemon.returncode not in (0, -signal.SIGTERM):
            self.failures.append(f"purser exited with {daemon.returncode}; see {log_path}")
        return out

    # --- Redis ---

    def run_redis(self, work, redis_rows, keys_path, run_index):
        redis_dir = os.path.join(work, f"redis-{run_index}")
        os.makedirs(redis_dir)
        sock = os.path.join(work, "r.sock")
        command = [self.args.redis_server, "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
                   "--dir", redis_dir, "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
                   "--daemonize", "no", "--logfile", os.path.join(redis_dir, "redis.log")]
        out = {"scenarios": {}}
        server = self.spawn(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            deadline = time.perf_counter() + 30
            while True:
                if server.poll() is not None:
                    raise BenchError(f"redis-server exited with {server.returncode}; see {redis_dir}/redis.log")
                try:
                    connection = RedisConnection(sock)
                    if connection.call("PING") == "PONG":
                        break
                except (OSError, BenchError):
                    if time.perf_counter() > deadline:
                        raise BenchError("redis-server did not answer PING within 30 s")
                    time.sleep(0.01)
            out["version"] = connection.call("INFO", "server").split("redis_version:")[1].split()[0]
            started = time.perf_counter()
            chunk = 1000
            commands = []
            for start in range(0, len(redis_rows), chunk):
                args = ["HSET", "purser:keys"]
                for digest, value in redis_rows[start:start + chunk]:
                    args += [digest, value]
                commands.append(args)
            connection.pipeline(commands)
            out["load_ms"] = (time.perf_counter() - started) * 1000
            sha_authorize = connection.call("SCRIPT", "LOAD", REDIS_AUTHORIZE)
            sha_settle = connection.call("SCRIPT", "LOAD", REDIS_SETTLE)
            out["rss_after_load_kib"] = rss_kib(server.pid)["VmRSS"]
            common = ["--keys", keys_path, "--estimate", str(ESTIMATE_MICROS), "--cost", str(COST_MICROS),
                      "--sha-authorize", sha_authorize, "--sha-settle", sha_settle]
            for mode, connections, depth in SCENARIOS:
                result = self.loadgen(f"redis {mode} {connections}x{depth}", sock, "redis-" + mode, connections, depth,
                                      common + ["--rid-prefix", f"b{run_index}{mode[0]}{connections}x{depth}"])
                out["scenarios"][(mode, connections, depth)] = result
            out["rss_after_runs_kib"] = rss_kib(server.pid)["VmRSS"]
            connection.close()
        finally:
            self.stop(server)
        return out


def batch_figures(before, after):
    def delta(name):
        if before.get(name) is None or after.get(name) is None:
            return None
        return after[name] - before[name]

    batches, operations, syncs = delta("batches_committed"), delta("operations_committed"), delta("syncs")
    figures = {"batches": batches, "operations": operations, "syncs": syncs,
               "mean_batch": operations / batches if batches else None,
               "ops_per_sync": operations / syncs if syncs else None}
    # A batch-size histogram, when the daemon's status has one (any field named like it).
    for name, value in after.items():
        if "histogram" in name or name.startswith("batch_size"):
            old = before.get(name)
            if isinstance(value, list) and isinstance(old, list) and len(old) == len(value):
                figures.setdefault("histograms", {})[name] = [a - b for a, b in zip(value, old)]
            elif isinstance(value, int) and isinstance(old, int):
                figures.setdefault("histograms", {})[name] = value - old
    return figures


# --- aggregation and the table ------------------------------------------------------------------


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def agg(results, *path):
    """The median over runs of results[i][path...]."""
    values = []
    for result in results:
        value = result
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
            if value is None:
                break
        values.append(value)
    return median(values)


def fmt(value, digits=1):
    if value is None:
        return "-"
    if abs(value) >= 10_000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.{digits}f}"


def ratio(a, b):
    return a / b if a is not None and b else None


def verdict(ok):
    return "met" if ok else "MISSED"


def render(args, meta, floors, pursers, redises):
    lines = []
    w = lines.append
    pin = (f"pinned with taskset: servers on CPU {args.server_cpus}, load generator on CPU {args.client_cpus}"
           if args.pin else "unpinned (1-connection latency flips between same-CPU and cross-CPU wake-ups)")
    w(f"Purser benchmark, {meta['when']}, {os.cpu_count()} CPUs, load average {meta['loadavg']} at start"
      + (" (SMOKE: tiny policy, short runs; figures are not meaningful)" if args.smoke else ""))
    w(f"purser {args.purser_bin} (version {meta.get('purser_version')}); redis-server {meta.get('redis_version')} "
      f"(appendonly yes, appendfsync everysec; Unix socket)")
    w(f"{pin}")
    w(f"{args.runs} run(s), median of each figure over runs; {args.seconds:g} s measured after {args.warmup:g} s warm-up per cell; "
      f"{meta['keys']:,} keys over {meta['tenants']:,} tenants, drawn uniformly at random")
    w(f"frames: authorize {meta['request_bytes']} B, reply {meta['reply_bytes']} B (length prefix included); "
      f"the floor echoes with exactly these sizes")
    w("")
    header = (f"{'scenario':<24}{'system':<8}{'p50 us':>9}{'p99 us':>9}{'p99.9 us':>10}{'per s':>11}"
              f"  {'P/floor p50':>11}{'P/floor tput':>13}{'P/Redis tput':>13}  target")
    w(header)
    w("-" * len(header))
    for mode, connections, depth in SCENARIOS:
        key = (mode, connections, depth)
        shape = f"{connections} conn" + (f", {depth} deep" if depth > 1 else "") if connections == 1 else f"{connections} conns"
        title = f"{'authorize' if mode == 'authorize' else 'authorize+settle'}"
        floor = {m: agg(floors, (connections, depth), m) for m in ("p50_us", "p99_us", "p999_us", "throughput")}
        purser = {m: agg(pursers, "scenarios", key, m) for m in ("p50_us", "p99_us", "p999_us", "throughput")}
        redis = {m: agg(redises, "scenarios", key, m) for m in ("p50_us", "p99_us", "p999_us", "throughput")}
        p50_vs_floor = ratio(purser["p50_us"], floor["p50_us"])
        tput_vs_floor = ratio(purser["throughput"], floor["throughput"])
        tput_vs_redis = ratio(purser["throughput"], redis["throughput"])
        targets = []
        if mode == "authorize" and connections == 1 and depth == 1 and p50_vs_floor is not None:
            targets.append(f"p50 <= {TARGETS['authorize_p50_vs_floor']}x floor: {verdict(p50_vs_floor <= TARGETS['authorize_p50_vs_floor'])}")
        if mode == "pair" and connections == 64 and depth == 1 and tput_vs_floor is not None:
            targets.append(f"tput >= {TARGETS['pair64_vs_floor']}x floor: {verdict(tput_vs_floor >= TARGETS['pair64_vs_floor'])}")
        if tput_vs_redis is not None:
            targets.append(f">= {TARGETS['vs_redis']:g}x Redis: {verdict(tput_vs_redis >= TARGETS['vs_redis'])}")
        rows = [("floor", floor, ""), ("purser", purser,
                 f"  {fmt(p50_vs_floor, 2) + 'x':>11}{fmt(tput_vs_floor, 2) + 'x':>13}{fmt(tput_vs_redis, 2) + 'x':>13}  "
                 + "; ".join(targets)), ("redis", redis, "")]
        for index, (system, figures, tail) in enumerate(rows):
            label = [title, shape, ""][index]
            w(f"{label:<24}{system:<8}{fmt(figures['p50_us']):>9}{fmt(figures['p99_us']):>9}{fmt(figures['p999_us']):>10}"
              f"{fmt(figures['throughput']):>11}{tail}")
    w("-" * len(header))
    w("authorize+settle rows: latency from the authorize sent to the durable settle answered (two round trips), "
      "per s = pairs; their floor row is one echo round trip.")
    w("")
    ping = {m: agg(pursers, "ping", m) for m in ("p50_us", "p99_us", "throughput")}
    auth_p50 = agg(pursers, "scenarios", ("authorize", 1, 1), "p50_us")
    floor_p50 = agg(floors, (1, 1), "p50_us")
    w(f"Purser ping, 1 conn (socket + event loop + one LMDB read, no write transaction): p50 {fmt(ping['p50_us'])} us, p99 {fmt(ping['p99_us'])} us, "
      f"{fmt(ping['throughput'])}/s; authorize p50 - ping p50 = {fmt(None if auth_p50 is None or ping['p50_us'] is None else auth_p50 - ping['p50_us'])} us "
      f"(decision, write transaction and commit), ping p50 - floor p50 = {fmt(None if floor_p50 is None or ping['p50_us'] is None else ping['p50_us'] - floor_p50)} us")
    work_parts = [f"+{microseconds} us: p50 {fmt(agg(floors, 'work', microseconds, 'p50_us'))} us"
                  for microseconds in FLOOR_WORK_MICROSECONDS]
    w(f"Floor spinning a fixed time per request, 1 conn (a round trip grows faster than the work on this VM): "
      f"+0 us: p50 {fmt(floor_p50)} us; " + "; ".join(work_parts))
    disk = {pages: agg(floors, "disk", pages, "pages_per_second") for pages in DISK_FLOOR_PAGES_PER_FSYNC}
    disk_p50 = {pages: agg(floors, "disk", pages, "fsync_p50_us") for pages in DISK_FLOOR_PAGES_PER_FSYNC}
    w("Disk floor (fsync_floor, same filesystem), random 4 KiB pages made durable: "
      + "; ".join(f"{pages} per fdatasync: p50 {fmt(disk_p50[pages])} us, {fmt(disk[pages])} pages/s" for pages in DISK_FLOOR_PAGES_PER_FSYNC))
    pair_parts = []
    for mode, connections, depth in SCENARIOS:
        if mode != "pair":
            continue
        per_pair = agg(pursers, "scenarios", (mode, connections, depth), "disk_bytes_per_request")
        pages_per_pair = None if per_pair is None else per_pair / 4096
        biggest = disk[max(DISK_FLOOR_PAGES_PER_FSYNC)]
        # An estimate, not a bound: larger fsyncs merge more pages, and the warm-up is counted.
        ceiling = None if pages_per_pair in (None, 0) or biggest is None else biggest / pages_per_pair
        pair_parts.append(f"{connections}x{depth} {fmt(pages_per_pair)} pages (at the disk floor's {max(DISK_FLOOR_PAGES_PER_FSYNC)}-page rate: ~{fmt(ceiling)} pairs/s)")
    w("Purser disk writes per durable pair (/proc/diskstats of the data directory's device, warm-up included): "
      + ", ".join(pair_parts))
    w(f"Settle durable ack (settle alone, 1 conn, answered after fsync): p50 {fmt(agg(pursers, 'scenarios', ('pair', 1, 1), 'settle', 'p50_us'))} us, "
      f"p99 {fmt(agg(pursers, 'scenarios', ('pair', 1, 1), 'settle', 'p99_us'))} us; Redis settle (everysec, acked before fsync): "
      f"p50 {fmt(agg(redises, 'scenarios', ('pair', 1, 1), 'settle', 'p50_us'))} us")
    parts = []
    for mode, connections, depth in SCENARIOS:
        key = (mode, connections, depth)
        mean = agg(pursers, "batches", key, "mean_batch")
        per_sync = agg(pursers, "batches", key, "ops_per_sync")
        parts.append(f"{'auth' if mode == 'authorize' else 'pair'} {connections}x{depth} {fmt(mean)}"
                     + (f" ({fmt(per_sync)}/fsync)" if mode == "pair" else ""))
    w("Group commit, mean operations per commit (per fsync): " + ", ".join(parts))
    histograms = [p["batches"][k].get("histograms") for p in pursers for k in p["batches"] if p["batches"][k].get("histograms")]
    if histograms:
        for mode, connections, depth in SCENARIOS:
            last = pursers[-1]["batches"][(mode, connections, depth)].get("histograms")
            if last:
                w(f"  batch sizes, {mode} {connections}x{depth} (last run): " + json.dumps(last, separators=(",", ":")))
    else:
        w("  (status has no batch-size histogram yet: means from batches_committed / operations_committed / syncs)")
    def mib(name):
        return ratio(agg(pursers, name), 1024)

    def split(when):
        anon, file = mib(f"rss_anon_after_{when}_kib"), mib(f"rss_file_after_{when}_kib")
        return f" ({fmt(anon)} anonymous + {fmt(file)} LMDB and program pages)" if anon is not None and file is not None else ""

    # The target is judged on the steady state after start-up and after a reload, whichever is
    # larger: a daemon that only fits before its first reload does not fit.
    steady = [value for value in (mib("rss_after_load_kib"), mib("rss_after_reload_kib")) if value is not None]
    rss_mib = max(steady) if steady else None
    w(f"Purser RSS with {meta['keys']:,} keys: {fmt(mib('rss_after_load_kib'))} MiB after start-up{split('load')}, "
      f"{fmt(mib('rss_after_reload_kib'))} MiB 1 s after a reload{split('reload')}, "
      f"{fmt(mib('rss_after_runs_kib'))} MiB after all scenarios (peak {fmt(mib('hwm_kib'))} MiB)"
      + (f"   target <= {TARGETS['rss_mib']} MiB (larger of start-up and reload): {verdict(rss_mib <= TARGETS['rss_mib'])}" if rss_mib else ""))
    reload_ms = agg(pursers, "reload_ms")
    w(f"Purser start-up with {meta['keys']:,} keys (spawn to first ping answered): {fmt(agg(pursers, 'startup_ms'))} ms; "
      f"reload: {fmt(reload_ms)} ms (duration_us), {fmt(agg(pursers, 'reload_wall_ms'))} ms round trip"
      + (f"   target <= {TARGETS['reload_s']:g} s: {verdict(reload_ms <= TARGETS['reload_s'] * 1000)}" if reload_ms is not None else ""))
    check_ms = agg(pursers, "check_policy_ms")
    if check_ms is not None:
        w(f"  of which parsing and validating the policy (purser check-policy, separate process, first run): {fmt(check_ms)} ms")
    for mode, connections, depth in SCENARIOS:
        threads = pursers[-1].get("threads", {}).get((mode, connections, depth))
        if threads:
            w(f"Purser CPU by thread, {mode} {connections}x{depth} (% of one CPU, last run, incl. warm-up): "
              + ", ".join(f"{name} {fmt(pct, 0)}" for name, pct in list(threads.items())[:4]))
    w(f"Redis with the same keys: RSS {fmt(ratio(agg(redises, 'rss_after_load_kib'), 1024))} MiB after loading them "
      f"({fmt(agg(redises, 'load_ms'))} ms), {fmt(ratio(agg(redises, 'rss_after_runs_kib'), 1024))} MiB after all scenarios")
    w("Host steal while each system ran (/proc/stat, % of all CPU time; runs: "
      + ", ".join(f"{name} " + "/".join(fmt(result.get("steal_pct"), 0) for result in results)
                  for name, results in (("purser", pursers), ("floor", floors), ("redis", redises)))
      + "): high steal slows every figure, and 1-connection latency most")
    cpu = ", ".join(f"{c}x{d} {fmt(agg(floors, (c, d), 'cpu_pct'), 0)}%" for c, d in SHAPES)
    w(f"Load generator CPU against the echo server (of one CPU; well under 100% means it is not the bottleneck): {cpu}")
    return "\n".join(lines)


# --- main ---------------------------------------------------------------------------------------


def resolve_purser(path):
    if os.path.isabs(path) or os.path.exists(path):
        return os.path.abspath(path)
    return os.path.join(ROOT, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--purser-bin", default=os.environ.get("PURSER_BIN", ".build/release/purser"),
                        help="the purser binary (default: $PURSER_BIN, else .build/release/purser)")
    parser.add_argument("--redis-server", default=shutil.which("redis-server") or "redis-server")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per cell (default 10)")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per cell (default 1)")
    parser.add_argument("--runs", type=int, default=3, help="runs; the table shows medians (default 3)")
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--pin", action="store_true", help="pin servers and the load generator with taskset")
    parser.add_argument("--server-cpus", default="1", help="with --pin: CPUs of the server under test (default 1)")
    parser.add_argument("--client-cpus", default="0", help="with --pin: CPUs of the load generator (default 0)")
    parser.add_argument("--startup-timeout", type=float, default=300.0)
    parser.add_argument("--json", metavar="PATH", help="also write every raw result to PATH")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--smoke", action="store_true",
                        help="about 5 seconds end to end with 200 keys: proves the harness works; figures meaningless")
    args = parser.parse_args(argv)
    if args.smoke:
        args.keys, args.tenants, args.seconds, args.warmup, args.runs = 200, 20, 0.15, 0.05, 1
    args.purser_bin = resolve_purser(args.purser_bin)
    if not os.access(args.purser_bin, os.X_OK):
        print(f"bench: no purser binary at {args.purser_bin}; build one "
              f"(swift build -c release --product purser) or pass --purser-bin", file=sys.stderr)
        return 2
    if not shutil.which(args.redis_server) and not os.access(args.redis_server, os.X_OK):
        print("bench: redis-server not found; install it (apt-get install -y redis-server) or pass --redis-server",
              file=sys.stderr)
        return 2
    if hdr_histogram_class() is None:
        print(f"bench: latencies are recorded in HdrHistogram; install its Python package ({HDR_INSTALL})",
              file=sys.stderr)
        return 2
    if args.pin and not shutil.which("taskset"):
        print("bench: --pin needs taskset (util-linux)", file=sys.stderr)
        return 2
    if args.tenants > args.keys or args.keys < 1 or args.runs < 1:
        print("bench: need 1 <= tenants <= keys and runs >= 1", file=sys.stderr)
        return 2

    began = time.perf_counter()
    try:
        tools = build_c()
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    with open("/proc/loadavg") as handle:
        loadavg = handle.read().split()[0]
    work = tempfile.mkdtemp(prefix="pbench-", dir="/tmp")  # short: Unix socket paths are <= 107 bytes
    bench = Bench(args, tools)
    meta = {"when": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "loadavg": loadavg, "keys": args.keys, "tenants": args.tenants}
    floors, pursers, redises = [], [], []
    try:
        policy_path, keys_path, redis_rows = write_policy_and_keys(work, args.tenants, args.keys)
        log(f"policy with {args.keys:,} keys over {args.tenants:,} tenants in {work}")
        for run in range(args.runs):
            log(f"run {run + 1} of {args.runs}: purser")
            before = cpu_times()
            purser = bench.run_purser(work, policy_path, keys_path, run)
            purser["steal_pct"] = steal_pct(before, cpu_times())
            pursers.append(purser)
            sizes = purser["scenarios"][("authorize", 1, 1)]
            if run == 0:
                meta["request_bytes"] = round(sizes["request_bytes_mean"])
                meta["reply_bytes"] = round(sizes["reply_bytes_mean"])
                meta["purser_version"] = purser.get("server_version")
            log(f"run {run + 1} of {args.runs}: floor")
            before = cpu_times()
            floors.append(bench.run_floor(work, meta["request_bytes"], meta["reply_bytes"]))
            floors[-1]["steal_pct"] = steal_pct(before, cpu_times())
            log(f"run {run + 1} of {args.runs}: redis")
            before = cpu_times()
            redis = bench.run_redis(work, redis_rows, keys_path, run)
            redis["steal_pct"] = steal_pct(before, cpu_times())
            meta["redis_version"] = redis.get("version")
            redises.append(redis)
    except (BenchError, OSError, subprocess.SubprocessError) as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    print(render(args, meta, floors, pursers, redises))
    if args.json:
        def keyed(d):
            if isinstance(d, dict):
                return {(" ".join(map(str, k)) if isinstance(k, tuple) else k): keyed(v) for k, v in d.items()}
            if isinstance(d, list):
                return [keyed(v) for v in d]
            return d
        with open(args.json, "w") as handle:
            json.dump(keyed({"meta": meta, "args": vars(args), "floor": floors, "purser": pursers, "redis": redises}), handle, indent=1)
    log(f"done in {time.perf_counter() - began:.1f} s")
    if bench.failures:
        print("\nPROBLEMS (the figures above include failed requests):\n  " + "\n  ".join(bench.failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
