"""The bad-frame corpus (tests/corpus/frames.json) against a real `purser serve`.

    swift build --product purser
    PURSER_BIN=.build/debug/purser python3 -m pytest tests/corpus -q

One daemon for the whole module, on tests/integration/policy.yaml, started with the helpers of
tests/integration/conftest.py. A long-lived connection holds a live reservation of key k_main for
the whole run. Then every frame of the corpus goes on a connection of its own:
- the reply is exactly the expected error code, with the documented correlation id;
- after a closing code the server closes the connection and sends nothing more; after another code
  the same connection still answers a ping;
- the long-lived connection still answers a ping.
Finally the state (`purser state --json`: scopes and open reservations) is exactly what it was
before the corpus, the live reservation can still be settled, and the long-lived connection still
answers ping and authorize.

The corpus uses the secret of k_main in its authorize frames and the placeholder reservation id in
its settle and release frames; the placeholder is replaced here by the live reservation, so a frame
that the daemon wrongly accepted would reserve, settle or release something and show in the state.
"""
from __future__ import annotations

import importlib.util
import json
import os
import socket
import sys
import time
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
INTEGRATION = os.path.join(REPO_ROOT, "tests", "integration")


def _load_integration_helpers():
    """tests/integration/conftest.py as a plain module (its fixtures are not used here)."""
    spec = importlib.util.spec_from_file_location("purser_integration_helpers", os.path.join(INTEGRATION, "conftest.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


helpers = _load_integration_helpers()
from purser_client import Client, protocol  # noqa: E402  (clients/python is on sys.path via the helpers)

with open(os.path.join(HERE, "frames.json")) as _handle:
    CORPUS = json.load(_handle)

PLACEHOLDER = CORPUS["placeholder_reservation"].encode()
SERVER_FRAMES = [entry for entry in CORPUS["frames"] if entry["direction"] == "to_server"]
ACCEPTED = CORPUS["accepted"]
REPLY_TIMEOUT_S = 10.0


def comparable_state(state: dict) -> dict:
    """What must not change: scopes and open reservations (the time of the snapshot is ignored)."""
    assert "scopes" in state and "open_reservations" in state, f"unexpected purser state output: {sorted(state)}"
    return {"scopes": state["scopes"], "open_reservations": state["open_reservations"]}


class Run:
    """The module's daemon, its long-lived connection and what was recorded before the corpus."""

    def __init__(self, daemon, long_lived: Client, reservation: str, before: dict):
        self.daemon = daemon
        self.long_lived = long_lived
        self.reservation = reservation
        self.before = before
        self.frames_sent = 0

    def frame_bytes(self, entry: dict) -> bytes:
        data = bytes.fromhex(entry["hex"])
        return data.replace(PLACEHOLDER, self.reservation.encode())

    def check_long_lived(self) -> None:
        pong = self.long_lived.ping()
        assert pong.server_version, "the long-lived connection's ping got no server_version"
        assert self.daemon.running(), f"the daemon exited\n{self.daemon.log_tail()}"


@pytest.fixture(scope="module")
def run():
    helpers.require_binary()
    directory = helpers.short_tempdir()
    policy = os.path.join(directory, "policy.yaml")
    with open(helpers.POLICY_PATH) as source, open(policy, "w") as target:
        target.write(source.read())
    daemon = helpers.Daemon(directory, policy)
    daemon.start()
    long_lived = daemon.client(timeout=REPLY_TIMEOUT_S)
    failed = False
    try:
        decision = long_lived.authorize(helpers.secret("k_main"), helpers.MODEL, estimate_micros=1000,
                                        request_id="corpus-live-" + uuid.uuid4().hex[:8])
        assert decision.allowed, decision
        assert len(decision.reservation) == len(PLACEHOLDER), decision.reservation
        before = comparable_state(daemon.state())
        assert before["open_reservations"] == 1, before
        assert any(key.startswith("key:k_main") for key in before["scopes"]), sorted(before["scopes"])
        yield Run(daemon, long_lived, decision.reservation, before)
    except BaseException:
        failed = True
        raise
    finally:
        long_lived.close()
        code = daemon.stop()
        print(f"\n[corpus daemon in {directory} stopped with {code}]")
        if not failed:
            import shutil
            shutil.rmtree(directory, ignore_errors=True)


def read_until_close(client: Client, limit: int = 8) -> list:
    """Every reply until the server closes the connection (a reset after the replies counts as a close)."""
    messages = []
    while len(messages) < limit:
        message = client.recv_message(REPLY_TIMEOUT_S)
        if message is None:
            return messages
        messages.append(message)
    raise AssertionError(f"the server sent {limit} replies without closing: {messages}")


def send(client: Client, data: bytes) -> None:
    """Sends everything it can: a server that refuses a frame early may close before the rest is written."""
    try:
        client.send_raw(data)
    except (BrokenPipeError, ConnectionResetError):
        pass


@pytest.mark.parametrize("entry", SERVER_FRAMES, ids=[entry["name"] for entry in SERVER_FRAMES])
def test_bad_frame(run: Run, entry: dict) -> None:
    data = run.frame_bytes(entry)
    with Client(run.daemon.socket_path, timeout=REPLY_TIMEOUT_S) as client:
        send(client, data)
        if entry["kind"] == "truncated":
            client.shutdown_write()
        run.frames_sent += 1
        if entry["closes"]:
            messages = read_until_close(client)
        else:
            messages = [client.recv_message(REPLY_TIMEOUT_S) for _ in range(len(entry["before"]) + 1)]
        types = [message.type if message else None for message in messages]
        assert types == entry["before"] + ["error"], f"replies: {messages}"
        error = messages[-1]
        assert error.fields.get("code") == entry["error"], f"{error.fields}"
        assert error.correlation_id == entry["correlation_id"], f"correlation id of {error}"
        assert "message" in error.fields and error.fields["message"], "an error reply carries a message"
        if entry["closes"]:
            # read_until_close returned: the server closed after the error and sent nothing more.
            assert client.recv_message(1.0) is None
        else:
            # The connection stays open and serves the next request.
            pong = client.ping()
            assert pong.server_version
    run.check_long_lived()


@pytest.mark.parametrize("entry", ACCEPTED, ids=[entry["name"] for entry in ACCEPTED])
def test_accepted_frame(run: Run, entry: dict) -> None:
    with Client(run.daemon.socket_path, timeout=REPLY_TIMEOUT_S) as client:
        send(client, run.frame_bytes(entry))
        run.frames_sent += 1
        reply = client.recv_message(REPLY_TIMEOUT_S)
        assert reply is not None, "the server closed the connection"
        assert reply.type == entry["reply_type"], f"{reply}"
        expected_id = int.from_bytes(bytes.fromhex(entry["hex"])[6:14], "big")
        assert reply.correlation_id == expected_id
        for name, value in entry["reply_fields"].items():
            assert reply.fields.get(name) == value, f"{name} of {reply}"
        assert client.ping().server_version, "the connection stays open"
    run.check_long_lived()


def test_zz_nothing_changed_and_the_daemon_still_serves(run: Run) -> None:
    """Runs last (pytest keeps file order): after the whole corpus, the state is untouched."""
    assert run.frames_sent == len(SERVER_FRAMES) + len(ACCEPTED), \
        f"only {run.frames_sent} frames were sent: run the whole module for this check"
    after = comparable_state(run.daemon.state())
    assert after == run.before, "the corpus changed the state"

    run.check_long_lived()
    decision = run.long_lived.authorize(helpers.secret("k_main"), helpers.MODEL, estimate_micros=1,
                                        request_id="corpus-after-" + uuid.uuid4().hex[:8])
    assert decision.allowed and decision.reservation, decision
    # The live reservation was never settled or released by a bad frame: its first settle charges it.
    settled = run.long_lived.settle(run.reservation, cost_micros=700)
    assert settled.cost_micros == 700 and not settled.late and not settled.replayed, settled
    run.long_lived.release(decision.reservation)
    # Nothing about the daemon's log suggests a crash.
    log = run.daemon.log_text()
    for marker in ("Fatal error", "fatal error", "Segmentation", "backtrace"):
        assert marker not in log, f"{marker!r} in the daemon log\n{run.daemon.log_tail()}"
