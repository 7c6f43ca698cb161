"""The Client against a scripted in-process fake server (no daemon needed)."""
import os
import socket
import sys
import tempfile
import threading

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from purser_client import Client, ConnectionClosed, Pipeline, PurserError, protocol  # noqa: E402
from purser_client.protocol import FrameBuffer, ProtocolError, encode  # noqa: E402


class FakeServer:
    """Accepts one connection and hands each decoded request batch to `handler(messages, conn)`."""

    def __init__(self, handler, batch=1):
        self.dir = tempfile.mkdtemp(prefix="pcli", dir="/tmp")
        self.path = os.path.join(self.dir, "s.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(1)
        self.handler = handler
        self.batch = batch
        self.received = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        conn, _ = self.listener.accept()
        conn.settimeout(5)
        buffer = FrameBuffer()
        pending = []
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                buffer.feed(data)
                while True:
                    payload = buffer.next_payload()
                    if payload is None:
                        break
                    message = protocol.decode_payload(payload, role="server")
                    self.received.append(message)
                    pending.append(message)
                    if len(pending) >= self.batch:
                        if self.handler(pending, conn) is False:
                            conn.close()
                            return
                        pending = []
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.listener.close()
        self.thread.join(5)
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        os.rmdir(self.dir)


def reply_for(message):
    if message.type == "ping":
        return encode("pong", message.correlation_id, {"server_version": "0.1.0", "policy_version": "ab" * 32})
    if message.type == "authorize":
        if message.fields["key"] == "bad":
            return encode("authorize_reply", message.correlation_id,
                          {"allowed": False, "reason": "unknown_key", "status": 401})
        return encode("authorize_reply", message.correlation_id,
                      {"allowed": True, "reservation": "rsv_" + message.fields["request_id"], "tenant": "acme",
                       "key_id": "k1", "tag": message.fields.get("tag", []) + ["dflt"],
                       "estimate_micros": message.fields.get("estimate_micros", 0), "replayed": False})
    if message.type == "settle":
        return encode("settle_reply", message.correlation_id,
                      {"reservation": message.fields["reservation"], "cost_micros": message.fields["cost_micros"],
                       "status": message.fields.get("status", "ok"), "late": False, "replayed": False})
    if message.type == "usage":
        assert message.fields["from"] == "2026-11-01" and message.fields["by"] == ["model", "day"]
        return encode("usage_reply", message.correlation_id, {"json": ['{"from":"2026-11-01","summary":', '{"requests":3}}']})
    if message.type == "credit":
        return encode("error", message.correlation_id, {"code": "admin_only", "message": "admin socket only"})
    raise AssertionError(message.type)


def echo_handler(messages, conn):
    for message in messages:
        conn.sendall(reply_for(message))


@pytest.fixture
def server_factory():
    servers = []

    def make(handler=echo_handler, batch=1):
        server = FakeServer(handler, batch)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


def test_calls_and_results(server_factory):
    server = server_factory()
    with Client(server.path, timeout=5) as client:
        pong = client.ping()
        assert pong.server_version == "0.1.0" and len(pong.policy_version) == 64
        allow = client.authorize("sk", "gpt-5.4", estimate_micros=10, tags=["x"], request_id="r1")
        assert allow.allowed and allow.reservation == "rsv_r1" and allow.tags == ["x", "dflt"] and allow.replayed is False
        deny = client.authorize("bad", "gpt-5.4", estimate_micros=10)
        assert not deny.allowed and deny.reason == "unknown_key" and deny.status == 401
        settled = client.settle("rsv_r1", cost_micros=7)
        assert settled.cost_micros == 7 and settled.status == "ok"
        with pytest.raises(PurserError) as caught:
            client.credit("acme", 5, "memo")
        assert caught.value.code == "admin_only" and not caught.value.closes_connection
        assert client.ping().server_version == "0.1.0"
    sent = server.received
    assert sent[2].fields["request_id"].startswith("py-")  # generated when not given
    assert sent[1].fields == {"key": "sk", "model": "gpt-5.4", "tag": ["x"], "estimate_micros": 10, "request_id": "r1"}


def test_pipeline_matches_out_of_order_replies(server_factory):
    def reversed_handler(messages, conn):
        for message in reversed(messages):
            conn.sendall(reply_for(message))

    server = server_factory(reversed_handler, batch=5)
    with Client(server.path, timeout=5) as client:
        results = client.pipeline([
            ("authorize", {"key": "sk", "model": "m", "estimate_micros": 1, "request_id": "a"}),
            ("ping",),
            ("authorize", {"key": "bad", "model": "m", "estimate_micros": 1}),
            ("credit", {"tenant": "t", "micros": 1}),
            ("settle", {"reservation": "rsv_a", "cost_micros": 3}),
        ])
        assert results[0].reservation == "rsv_a"
        assert results[1].server_version == "0.1.0"
        assert results[2].reason == "unknown_key"
        assert isinstance(results[3], PurserError) and results[3].code == "admin_only"
        assert results[4].cost_micros == 3
        p = Pipeline(client)
        for i in range(5):
            p.authorize("sk", "m", estimate_micros=i, request_id=f"p{i}")
        assert [r.reservation for r in p.execute()] == [f"rsv_p{i}" for i in range(5)]


def test_long_pipeline_interleaves_reads_and_writes(server_factory):
    server = server_factory()
    with Client(server.path, timeout=10) as client:
        results = client.pipeline([("authorize", {"key": "sk", "model": "m", "estimate_micros": 1,
                                                  "request_id": f"r{i}" + "x" * 100}) for i in range(3000)])
        assert all(r.allowed for r in results) and results[-1].reservation.startswith("rsv_r2999")


def test_pipeline_close_after_some_replies(server_factory):
    def handler(messages, conn):
        conn.sendall(reply_for(messages[1]))
        conn.sendall(encode("error", messages[2].correlation_id, {"code": "shutting_down", "message": "bye"}))
        return False  # close

    server = server_factory(handler, batch=4)
    with Client(server.path, timeout=5) as client:
        results = client.pipeline([("ping",)] * 4)
        assert isinstance(results[0], ConnectionClosed)
        assert results[1].server_version == "0.1.0"
        assert isinstance(results[2], PurserError) and results[2].code == "shutting_down"
        assert isinstance(results[3], ConnectionClosed)


def test_raw_frames_and_partial_close(server_factory):
    def handler(messages, conn):
        conn.sendall(encode("error", 0, {"code": "malformed_frame", "message": "x"}))
        conn.sendall(encode("pong", 1, {"server_version": "v", "policy_version": "p"})[:7])
        return False

    server = server_factory(handler)
    with Client(server.path, timeout=5) as client:
        frame = client.request_raw(encode("ping", 1))
        assert protocol.decode(frame).fields["code"] == "malformed_frame"
        with pytest.raises(ProtocolError) as caught:
            client.recv_frame()
        assert caught.value.code == "malformed_frame"


def test_clean_close_returns_none(server_factory):
    server = server_factory(lambda messages, conn: False)
    with Client(server.path, timeout=5) as client:
        client.send_raw(encode("ping", 1))
        assert client.recv_frame() is None
    server2 = server_factory(lambda messages, conn: False)
    with Client(server2.path, timeout=5) as client:
        with pytest.raises(ConnectionClosed):
            client.ping()


def test_timeout_is_bounded(server_factory):
    server = server_factory(lambda messages, conn: None)  # never answers
    with Client(server.path, timeout=0.3) as client:
        with pytest.raises(TimeoutError):
            client.ping()
        with pytest.raises(TimeoutError):
            client.pipeline([("ping",)] * 3)


def test_usage_concatenates_chunks(server_factory):
    server = server_factory()
    with Client(server.path, timeout=5) as client:
        usage = client.usage("2026-11-01", "2026-11-30", tenant="acme", by=["model", "day"])
        assert usage.report == {"from": "2026-11-01", "summary": {"requests": 3}}
        assert usage.json.startswith('{"from"')
    assert server.received[0].fields == {"tenant": "acme", "from": "2026-11-01", "to": "2026-11-30", "by": ["model", "day"]}


def test_a_refusal_sent_before_our_request_is_reported_by_its_code():
    # A daemon refusing a peer (allowlist) writes an error frame and closes before reading anything,
    # so our write fails with EPIPE. The client must still surface the daemon's code, not EPIPE.
    directory = tempfile.mkdtemp(prefix="pcli", dir="/tmp")
    path = os.path.join(directory, "s.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    refused = threading.Event()

    def refuse():
        conn, _ = listener.accept()
        conn.sendall(encode("error", 0, {"code": "permission_denied", "message": "peer not in the allowlist"}))
        conn.close()
        refused.set()

    thread = threading.Thread(target=refuse, daemon=True)
    thread.start()
    try:
        with Client(path, timeout=5) as client:
            assert refused.wait(5)
            with pytest.raises(PurserError) as raised:
                client.ping()
            assert raised.value.code == "permission_denied"
    finally:
        thread.join(5)
        listener.close()
        os.unlink(path)
        os.rmdir(directory)
