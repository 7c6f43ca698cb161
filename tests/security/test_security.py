"""Security properties of a real daemon: who may connect, what is refused, and that key secrets
are stored and printed nowhere. See docs/security.md for the threat model these tests back.
"""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from conftest import MODEL, POLICY_PATH, SECRETS, UNKNOWN_SECRET, Daemon, run_cli, secret  # noqa: E402
from purser_client import Client, ConnectionClosed, PurserError  # noqa: E402


@pytest.fixture
def workdir():
    directory = tempfile.mkdtemp(prefix="ps-", dir="/tmp")
    shutil.copy(POLICY_PATH, os.path.join(directory, "policy.yaml"))
    os.chmod(os.path.join(directory, "policy.yaml"), 0o600)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def daemons(workdir):
    started = []

    def start(*extra_args: str, ready_socket: str = "data") -> Daemon:
        """Starts a daemon and waits until `ready_socket` answers; the other may refuse us by design."""
        daemon = Daemon(workdir, os.path.join(workdir, "policy.yaml"), extra_args=list(extra_args))
        started.append(daemon)
        daemon.start(wait=False)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with (daemon.client(timeout=2) if ready_socket == "data" else daemon.admin(timeout=2)) as client:
                    client.ping()
                return daemon
            except (OSError, ConnectionClosed, PurserError):
                time.sleep(0.05)
        pytest.fail(f"the daemon's {ready_socket} socket never answered\n" + daemon.log_tail())

    yield start
    for daemon in started:
        daemon.stop()


def refused_with(path: str) -> str:
    """Connects and returns the error code the daemon sends before closing."""
    with Client(path, timeout=5) as client:
        with pytest.raises((PurserError, ConnectionClosed)) as raised:
            client.ping()
    error = raised.value
    return getattr(error, "code", "closed")


def test_peer_allowlist_refuses_other_uids_on_each_socket(daemons):
    me = os.getuid()
    daemon = daemons("--socket-allow-uid", str(me + 12345), "--admin-allow-uid", str(me), ready_socket="admin")
    assert refused_with(daemon.socket_path) == "permission_denied"
    with daemon.admin() as admin:
        assert admin.status().keys > 0
    assert "refusing a peer outside the allowlist" in daemon.log_text()
    # The daemon writes its refusal and closes without reading, so a client's first write races the
    # close. Whichever wins, a script must see the daemon's code (not EPIPE, not a SIGPIPE death).
    for _ in range(20):
        assert refused_with(daemon.socket_path) == "permission_denied"
        result = run_cli("authorize", "--socket", daemon.socket_path, "--key", secret("k_main"), "--model", MODEL,
                         "--estimate-micros", "1")
        assert result.returncode == 1, result
        assert "permission_denied" in result.stdout + result.stderr, result


def test_peer_allowlist_admits_by_uid_or_gid(daemons):
    daemon = daemons("--socket-allow-uid", "4242", "--socket-allow-gid", str(os.getgid()), "--admin-allow-gid", "4242")
    with daemon.client() as client:
        assert client.authorize(secret("k_main"), MODEL, estimate_micros=1).allowed
    assert refused_with(daemon.admin_socket_path) == "permission_denied"


def test_socket_modes_and_admin_refused_on_the_data_socket(daemons):
    daemon = daemons("--socket-mode", "0640")
    assert stat.S_IMODE(os.stat(daemon.socket_path).st_mode) == 0o640
    assert stat.S_IMODE(os.stat(daemon.admin_socket_path).st_mode) == 0o600
    with daemon.client() as client:
        for request in (lambda: client.status(), lambda: client.reload(), lambda: client.credit("main", 1, "m")):
            with pytest.raises(PurserError) as raised:
                request()
            assert raised.value.code == "admin_only"
        assert client.ping().server_version


def test_world_writable_policy_and_data_directory_draw_warnings(workdir):
    policy = os.path.join(workdir, "policy.yaml")
    data = os.path.join(workdir, "data")
    os.makedirs(data)
    os.chmod(policy, 0o666)
    os.chmod(data, 0o777)
    daemon = Daemon(workdir, policy).start()
    try:
        log = daemon.log_text()
        assert f"path={policy}" in log and "world-writable" in log, log
        assert f"path={data}" in log, log
    finally:
        daemon.stop()


def test_secrets_are_stored_and_printed_nowhere(daemons, workdir):
    daemon = daemons("--log-level", "debug")
    used = [secret("k_main"), secret("k_disabled"), secret("k_expired"), UNKNOWN_SECRET]
    with daemon.client() as client:
        for key in used:
            result = client.authorize(key, MODEL, estimate_micros=5)
            if result.allowed:
                client.settle(result.reservation, cost_micros=5)
        # A malformed request carrying a secret: the error must not echo it.
        with pytest.raises(PurserError) as raised:
            client.call(("authorize", {"key": secret("k_main"), "model": MODEL, "request_id": "r", "input_tokens": 1}))
        assert raised.value.code == "malformed_field"
        assert secret("k_main") not in str(raised.value)
    cli = run_cli("authorize", "--socket", daemon.socket_path, "--key", secret("k_rate"), "--model", "nope", "--estimate-micros", "1")
    assert secret("k_rate") not in cli.stdout + cli.stderr
    daemon.stop()
    everything = [daemon.log_path] + [os.path.join(root, name) for root, _, names in os.walk(daemon.data_dir) for name in names]
    for path in everything:
        with open(path, "rb") as handle:
            content = handle.read()
        for key in used + [secret("k_rate")] + list(SECRETS.values()):
            assert key.encode() not in content, f"a key secret appears in {path}"
