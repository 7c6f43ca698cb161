"""Fixtures for the integration tests: a real `purser serve` daemon in a temporary directory.

The binary is $PURSER_BIN, default `.build/debug/purser` relative to the repository root.
Each test gets a fresh daemon (own socket paths under /tmp, own data directory, own log file);
teardown sends SIGTERM and, if the daemon has not exited within 10 s, SIGKILL.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import List, Optional

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO_ROOT, "clients", "python"))

from purser_client import Client  # noqa: E402

POLICY_PATH = os.path.join(HERE, "policy.yaml")
MODEL = "gpt-5.4"

#: key id -> its secret; policy.yaml holds sha256 of each.
SECRETS = {
    "k_main": "sk-itest-main-9Xc2vQ",
    "k_disabled": "sk-itest-disabled-Lm4R",
    "k_expired": "sk-itest-expired-Zt7P",
    "k_narrow": "sk-itest-narrow-Hq8W",
    "k_rate": "sk-itest-rate-Bv3N",
    "k_conc": "sk-itest-conc-Yp6K",
    "k_budget": "sk-itest-budget-Dw5J",
    "k_prepaid": "sk-itest-prepaid-Rf2S",
    "k_capped": "sk-itest-capped-Ua9E",
    "k_crash1": "sk-itest-crash1-Gk1T",
    "k_crash2": "sk-itest-crash2-Jn6F",
    "k_crash3": "sk-itest-crash3-Oq3L",
    "k_crash4": "sk-itest-crash4-Wx8M",
}
#: A secret no policy knows.
UNKNOWN_SECRET = "sk-itest-unknown-Cz0A"
#: Added to an edited copy of the policy by the reload test.
NEW_KEY_ID = "k_new"
NEW_SECRET = "sk-itest-new-Ee5H"

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def purser_bin() -> str:
    path = os.environ.get("PURSER_BIN", os.path.join(".build", "debug", "purser"))
    if not os.path.isabs(path):
        path = os.path.join(REPO_ROOT, path)
    return path


def require_binary() -> str:
    path = purser_bin()
    if not os.access(path, os.X_OK):
        pytest.fail(f"purser binary not found at {path} (set PURSER_BIN or build with `swift build --product purser`)")
    return path


def run_cli(*args: str, timeout: float = 30.0, check: bool = False) -> subprocess.CompletedProcess:
    """Runs `purser ARGS...` and returns the completed process (text mode)."""
    result = subprocess.run([require_binary(), *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"purser {' '.join(args)} exited {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}")
    return result


def read_state(data_dir: str) -> dict:
    """`purser state --data DIR --json`, parsed."""
    result = run_cli("state", "--data", data_dir, "--json", check=True)
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError as error:
        raise AssertionError(f"purser state printed no JSON ({error}):\n{result.stdout}\n{result.stderr}") from None


def scope_counter(state: dict, scope: str, period: str, counter: str) -> int:
    scopes = state.get("scopes", {})
    assert scope in scopes, f"scope {scope} not in purser state output (scopes: {sorted(scopes)[:20]})"
    return int(scopes[scope][period][counter])


def policy_text() -> str:
    with open(POLICY_PATH) as handle:
        return handle.read()


def policy_with_new_key() -> str:
    """The test policy plus key k_new (keys is the file's last section)."""
    return policy_text().rstrip("\n") + (
        f"\n  - id: {NEW_KEY_ID}\n    tenant: main\n    sha256: \"{sha256_hex(NEW_SECRET)}\"\n"
    )


class Daemon:
    """One `purser serve` process and its paths."""

    def __init__(self, directory: str, policy_path: str, log_format: str = "text", extra_args: Optional[List[str]] = None):
        self.dir = directory
        self.policy_path = policy_path
        self.socket_path = os.path.join(directory, "d.sock")
        self.admin_socket_path = os.path.join(directory, "a.sock")
        self.data_dir = os.path.join(directory, "data")
        self.log_path = os.path.join(directory, "daemon.log")
        self.log_format = log_format
        self.extra_args = list(extra_args or [])
        self.process: Optional[subprocess.Popen] = None
        self._log_handle = None
        self.starts = 0
        assert len(self.socket_path.encode()) < 100, self.socket_path

    def command(self) -> List[str]:
        return [require_binary(), "serve", "--policy", self.policy_path, "--data", self.data_dir,
                "--socket", self.socket_path, "--admin-socket", self.admin_socket_path,
                "--log-format", self.log_format, *self.extra_args]

    def start(self, wait: bool = True) -> "Daemon":
        assert self.process is None or self.process.poll() is not None, "daemon already running"
        self._log_handle = open(self.log_path, "ab")
        self._log_handle.write(f"=== start #{self.starts + 1}: {' '.join(self.command())}\n".encode())
        self._log_handle.flush()
        self.process = subprocess.Popen(self.command(), stdout=self._log_handle, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, cwd=self.dir)
        self.starts += 1
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        last_error: Optional[BaseException] = None
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                pytest.fail(f"purser serve exited with {code} before it was ready\n{self.log_tail()}")
            # Both sockets: the admin socket has been seen to appear a moment after the data socket
            # answers its first ping (about 1 start in 30).
            if os.path.exists(self.socket_path) and os.path.exists(self.admin_socket_path):
                try:
                    for path in (self.socket_path, self.admin_socket_path):
                        with Client(path, timeout=2.0) as client:
                            client.ping()
                    return
                except Exception as error:  # noqa: BLE001 - any failure means not ready yet
                    last_error = error
            time.sleep(0.05)
        pytest.fail(f"purser serve did not answer ping within {timeout}s (last error: {last_error!r})\n{self.log_tail()}")

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int) -> None:
        assert self.running(), "daemon is not running"
        self.process.send_signal(signum)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> Optional[int]:
        """SIGTERM and wait; SIGKILL after `timeout`. Returns the exit code (None if it had to be killed)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
                return None
        self._close_log()
        return self.process.returncode

    def kill9(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._close_log()

    def wait_exit(self, timeout: float) -> Optional[int]:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def _close_log(self) -> None:
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    def client(self, timeout: float = 5.0) -> Client:
        return Client(self.socket_path, timeout=timeout)

    def admin(self, timeout: float = 5.0) -> Client:
        return Client(self.admin_socket_path, timeout=timeout)

    def state(self) -> dict:
        return read_state(self.data_dir)

    def log_text(self) -> str:
        try:
            with open(self.log_path, "rb") as handle:
                return handle.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_text().splitlines()
        return f"--- last {min(lines, len(text))} lines of {self.log_path} ---\n" + "\n".join(text[-lines:])


def short_tempdir() -> str:
    """A short directory under /tmp (Unix socket paths are limited to about 107 bytes)."""
    return tempfile.mkdtemp(prefix="pi-", dir="/tmp")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


@pytest.fixture
def workdir(request):
    """A short temp dir with a private copy of the policy; kept (and named) when the test fails."""
    directory = short_tempdir()
    shutil.copy(POLICY_PATH, os.path.join(directory, "policy.yaml"))
    yield directory
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    if failed:
        print(f"\n[kept {directory} for inspection]")
    else:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def make_daemon(workdir, request):
    """Creates (not starts) daemons in the test's work dir; every one is stopped in teardown."""
    daemons: List[Daemon] = []

    def make(log_format: str = "text", extra_args: Optional[List[str]] = None, subdir: Optional[str] = None) -> Daemon:
        directory = workdir
        if subdir:
            directory = os.path.join(workdir, subdir)
            os.makedirs(directory, exist_ok=True)
        daemon = Daemon(directory, os.path.join(workdir, "policy.yaml"), log_format, extra_args)
        daemons.append(daemon)
        return daemon

    yield make
    for daemon in daemons:
        code = daemon.stop()
        failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
        if failed:
            print(f"\n[daemon in {daemon.dir} stopped with {code}]\n{daemon.log_tail(40)}")


@pytest.fixture
def daemon(make_daemon) -> Daemon:
    """A started daemon on the test policy."""
    return make_daemon().start()


def secret(key_id: str) -> str:
    return SECRETS[key_id]


def make_bound_then_closed_socket(path: str) -> None:
    """Leaves a stale socket file at `path`: bound, never listened to, closed."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.close()
    assert os.path.exists(path)
