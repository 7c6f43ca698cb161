"""Shared helpers of the reliability tests: the test policy's secrets, RSS and latency figures,
and a `make_daemon` fixture built on the integration tests' Daemon (tests/integration/conftest.py),
which is imported from there, not copied.

The binary is $PURSER_BIN (default `.build/debug/purser` relative to the repository root), as in
the integration tests.
"""
from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from typing import List, Optional, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
INTEGRATION_DIR = os.path.join(REPO_ROOT, "tests", "integration")
for _path in (os.path.join(REPO_ROOT, "clients", "python"), INTEGRATION_DIR):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import importlib.util  # noqa: E402

import pytest  # noqa: E402


def _integration_conftest():
    """tests/integration/conftest.py as a module. pytest may have imported it as `conftest`, or
    another folder's conftest may hold that name (tests/security, ...): load it by path if needed."""
    path = os.path.join(INTEGRATION_DIR, "conftest.py")
    loaded = sys.modules.get("conftest")
    if loaded is not None and os.path.abspath(getattr(loaded, "__file__", "") or "") == path:
        return loaded
    name = "purser_integration_conftest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


_conftest = _integration_conftest()
Daemon = _conftest.Daemon
purser_bin = _conftest.purser_bin
read_state = _conftest.read_state
require_binary = _conftest.require_binary
run_cli = _conftest.run_cli
from purser_client import Client  # noqa: E402,F401

POLICY_PATH = os.path.join(HERE, "policy.yaml")
MODEL = "gpt-5.4"

#: key id -> its secret; policy.yaml holds sha256 of each.
SECRETS = {
    "k_cap1": "sk-rel-cap1-Tq4Z",
    "k_cap2": "sk-rel-cap2-Hn7D",
    "k_free1": "sk-rel-free1-Pw2K",
    "k_free2": "sk-rel-free2-Bx9M",
    "k_keycap": "sk-rel-keycap-Vr5S",
    "k_load": "sk-rel-load-Jc3Y",
}
TENANT_CAP = ("tenant:capped", "month", 5_000_000)
KEY_CAP = ("key:k_keycap", "total", 2_000_000)


def secret(key_id: str) -> str:
    return SECRETS[key_id]


def short_tempdir(prefix: str = "pr-") -> str:
    """A short directory under /tmp (Unix socket paths are limited to about 107 bytes)."""
    return tempfile.mkdtemp(prefix=prefix, dir="/tmp")


def rss_kib(pid: int) -> int:
    """VmRSS of a process in KiB, from /proc/PID/status."""
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS in /proc/{pid}/status")


def memory_kib(pid: int) -> dict:
    """VmRSS, RssAnon (heap: what a buffering daemon grows) and RssFile (mapped files, LMDB's map
    included, which grows with the data) of a process, in KiB."""
    values = {}
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                values[name] = int(rest.split()[0])
    return values


def mib(kib: int) -> str:
    return f"{kib / 1024:.1f} MiB"


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    assert ordered, "no values"
    index = min(len(ordered) - 1, max(0, int(round(fraction * (len(ordered) - 1)))))
    return ordered[index]


def write_policy(directory: str, text: Optional[str] = None) -> str:
    """Writes the test policy (or `text`) to DIRECTORY/policy.yaml and returns its path."""
    path = os.path.join(directory, "policy.yaml")
    if text is None:
        shutil.copy(POLICY_PATH, path)
    else:
        with open(path, "w") as handle:
            handle.write(text)
    return path


def policy_text() -> str:
    with open(POLICY_PATH) as handle:
        return handle.read()


def scope_counter(state: dict, scope: str, period: str, counter: str) -> int:
    """A counter from `purser state --json`; 0 when the scope has never been touched."""
    entry = state.get("scopes", {}).get(scope)
    if entry is None:
        return 0
    return int(entry[period][counter])


def hard_stop(daemon: Daemon, timeout: float = 10.0) -> Optional[int]:
    """SIGTERM, then SIGKILL after `timeout`; returns the exit code (None when it had to be killed)."""
    if daemon.process is None:
        return None
    return daemon.stop(timeout)


@pytest.fixture
def rel_workdir(request):
    directory = short_tempdir()
    failed_before = request.session.testsfailed
    yield directory
    if request.session.testsfailed > failed_before:
        print(f"\n[kept {directory} for inspection]")
    else:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def make_daemon(rel_workdir, request):
    """make(extra_args=[...], policy_text=None, subdir=None) -> a Daemon (not started).
    Every daemon is stopped in teardown: SIGTERM, SIGKILL after 10 s."""
    daemons: List[Daemon] = []

    def make(extra_args: Optional[List[str]] = None, policy: Optional[str] = None,
             subdir: Optional[str] = None) -> Daemon:
        directory = rel_workdir if subdir is None else os.path.join(rel_workdir, subdir)
        os.makedirs(directory, exist_ok=True)
        policy_path = write_policy(directory, policy)
        daemon = Daemon(directory, policy_path, "text", extra_args)
        daemons.append(daemon)
        return daemon

    failed_before = request.session.testsfailed
    yield make
    failed = request.session.testsfailed > failed_before
    for daemon in daemons:
        try:
            code = hard_stop(daemon)
        except Exception as error:  # noqa: BLE001 - teardown must reach every daemon
            code = f"stop failed: {error!r}"
            if daemon.process is not None and daemon.process.poll() is None:
                daemon.process.send_signal(signal.SIGKILL)
                daemon.process.wait(10)
        if failed:
            print(f"\n[daemon in {daemon.dir} stopped with {code}]\n{daemon.log_tail(40)}")
