"""A synchronous Purser client over a Unix domain socket, with pipelining."""
from __future__ import annotations

import dataclasses
import itertools
import json
import selectors
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from . import protocol
from .protocol import FrameBuffer, Message, ProtocolError


class PurserError(Exception):
    """The server answered with an error frame (type 0x7F)."""

    def __init__(self, code: str, message: str = "", correlation_id: Optional[int] = None) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.correlation_id = correlation_id

    @property
    def closes_connection(self) -> bool:
        return self.code in protocol.CLOSING_ERROR_CODES


class ConnectionClosed(ConnectionError):
    """The server closed the connection at a frame boundary before answering."""


# --- results -------------------------------------------------------------------------------------


@dataclass
class AuthorizeResult:
    allowed: bool
    reason: Optional[str] = None
    status: Optional[int] = None
    reservation: Optional[str] = None
    tenant: Optional[str] = None
    key_id: Optional[str] = None
    tags: List[str] = field(default_factory=list)  # wire field `tag` (repeated)
    estimate_micros: Optional[int] = None
    expires_at_ms: Optional[int] = None
    remaining_micros: Optional[int] = None
    scope: Optional[str] = None
    period: Optional[str] = None
    cap_micros: Optional[int] = None
    retry_after_ms: Optional[int] = None
    requests_remaining: Optional[int] = None
    tokens_remaining: Optional[int] = None
    detail: Optional[str] = None
    replayed: Optional[bool] = None

    @property
    def tag(self) -> List[str]:
        return self.tags


@dataclass
class SettleResult:
    reservation: str
    cost_micros: Optional[int] = None
    input_tokens: Optional[int] = None
    output_tokens: Optional[int] = None
    status: Optional[str] = None
    retries: Optional[int] = None
    overdraft_micros: Optional[int] = None
    late: Optional[bool] = None
    replayed: Optional[bool] = None
    settled_at_ms: Optional[int] = None


@dataclass
class ReleaseResult:
    reservation: str
    state: str
    replayed: Optional[bool] = None


@dataclass
class PingResult:
    server_version: str
    policy_version: str


@dataclass
class ReloadResult:
    policy_version: str
    plans: Optional[int] = None
    tenants: Optional[int] = None
    keys: Optional[int] = None
    duration_us: Optional[int] = None


@dataclass
class CreditResult:
    tenant: str
    balance_micros: Optional[int] = None
    credited_micros: Optional[int] = None
    replayed: Optional[bool] = None


@dataclass
class StatusResult:
    server_version: Optional[str] = None
    policy_version: Optional[str] = None
    policy_loaded_at_ms: Optional[int] = None
    plans: Optional[int] = None
    tenants: Optional[int] = None
    keys: Optional[int] = None
    uptime_ms: Optional[int] = None
    connections: Optional[int] = None
    outbox_depth: Optional[int] = None
    expired_total: Optional[int] = None
    batches_committed: Optional[int] = None
    operations_committed: Optional[int] = None
    syncs: Optional[int] = None
    ledger_high_water: Optional[int] = None
    ledger_lag_ms: Optional[int] = None
    batch_size_histogram: Optional[List[int]] = None
    checkpoints: Optional[int] = None


@dataclass
class UsageResult:
    """The usage report: ``json`` is the concatenated document, ``report`` it parsed."""

    json: str
    report: Dict[str, Any]


RESULT_TYPES = {
    "authorize_reply": AuthorizeResult,
    "settle_reply": SettleResult,
    "release_reply": ReleaseResult,
    "pong": PingResult,
    "reload_reply": ReloadResult,
    "credit_reply": CreditResult,
    "status_reply": StatusResult,
    "usage_reply": UsageResult,
}


def result_from_message(message: Message) -> Any:
    """A reply message as its result dataclass; an error message as a :class:`PurserError`."""
    if message.type == "error":
        return PurserError(message.fields.get("code", ""), message.fields.get("message", ""), message.correlation_id)
    cls = RESULT_TYPES[message.type]
    values = dict(message.fields)
    if cls is AuthorizeResult:
        values["tags"] = values.pop("tag", [])
    if cls is UsageResult:
        document = "".join(values.get("json", []))
        return UsageResult(document, json.loads(document) if document else {})
    return cls(**values)


def as_dict(result: Any) -> Dict[str, Any]:
    return dataclasses.asdict(result)


# --- requests ------------------------------------------------------------------------------------


@dataclass
class Request:
    """One request to send: its type name and wire fields."""

    type: str
    fields: Dict[str, Any] = field(default_factory=dict)


def new_request_id() -> str:
    return "py-" + uuid.uuid4().hex


def authorize_request(key: str, model: str, *, estimate_micros: Optional[int] = None, input_tokens: Optional[int] = None,
                      max_output_tokens: Optional[int] = None, tags: Sequence[str] = (),
                      request_id: Optional[str] = None) -> Request:
    fields: Dict[str, Any] = {"key": key, "model": model, "request_id": request_id or new_request_id()}
    if tags:
        fields["tag"] = list(tags)
    if estimate_micros is not None:
        fields["estimate_micros"] = estimate_micros
    if input_tokens is not None:
        fields["input_tokens"] = input_tokens
    if max_output_tokens is not None:
        fields["max_output_tokens"] = max_output_tokens
    return Request("authorize", fields)


def settle_request(reservation: str, *, cost_micros: Optional[int] = None, input_tokens: Optional[int] = None,
                   output_tokens: Optional[int] = None, status: str = "ok", retries: int = 0) -> Request:
    fields: Dict[str, Any] = {"reservation": reservation, "status": status, "retries": retries}
    if cost_micros is not None:
        fields["cost_micros"] = cost_micros
    if input_tokens is not None:
        fields["input_tokens"] = input_tokens
    if output_tokens is not None:
        fields["output_tokens"] = output_tokens
    return Request("settle", fields)


def release_request(reservation: str) -> Request:
    return Request("release", {"reservation": reservation})


def credit_request(tenant: str, micros: int, memo: Optional[str] = None, request_id: Optional[str] = None) -> Request:
    fields: Dict[str, Any] = {"tenant": tenant, "micros": micros, "request_id": request_id or new_request_id()}
    if memo is not None:
        fields["memo"] = memo
    return Request("credit", fields)


def usage_request(from_: str, to: str, *, tenant: Optional[str] = None, key: Optional[str] = None,
                  tag: Optional[str] = None, by: Sequence[str] = ()) -> Request:
    """``from_`` and ``to`` are UTC days ``YYYY-MM-DD`` (``to`` included); ``key`` is a key id."""
    fields: Dict[str, Any] = {"from": from_, "to": to}
    for name, value in (("tenant", tenant), ("key", key), ("tag", tag)):
        if value is not None:
            fields[name] = value
    if by:
        fields["by"] = list(by)
    return Request("usage", fields)


_BUILDERS = {
    "authorize": authorize_request,
    "settle": settle_request,
    "release": release_request,
    "credit": credit_request,
    "ping": lambda: Request("ping"),
    "reload": lambda: Request("reload"),
    "status": lambda: Request("status"),
    "usage": usage_request,
}

RequestLike = Union[Request, Tuple[str, Mapping[str, Any]], Tuple[str]]


def to_request(item: RequestLike) -> Request:
    """``Request``, or ``("authorize", {kwargs of Client.authorize})``, or ``("ping",)``."""
    if isinstance(item, Request):
        return item
    name = item[0]
    kwargs = dict(item[1]) if len(item) > 1 else {}
    if name not in _BUILDERS:
        raise ValueError(f"unknown request type {name!r}")
    return _BUILDERS[name](**kwargs)


# --- client --------------------------------------------------------------------------------------


class Client:
    """A connection to one Purser socket (data or admin).

    Methods send one request and wait for its reply. A deny is a normal :class:`AuthorizeResult`
    with ``allowed`` false; an error frame raises :class:`PurserError`.
    """

    def __init__(self, socket_path: str, timeout: Optional[float] = 5.0,
                 frame_bytes_max: int = 16 * 1024 * 1024) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(socket_path)
        except BaseException:
            self.sock.close()
            raise
        self._buffer = FrameBuffer(frame_bytes_max)
        self._ids = itertools.count(1)
        self._eof = False
        #: True when the connection ended with ECONNRESET rather than a clean end of stream.
        self.reset = False
        self.closed = False

    # context manager
    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass

    def next_correlation_id(self) -> int:
        return next(self._ids)

    # --- raw access (tests of malformed input) ---

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def shutdown_write(self) -> None:
        self.sock.shutdown(socket.SHUT_WR)

    def _fill(self, deadline: Optional[float]) -> bool:
        """Reads more bytes into the buffer; False at end of stream."""
        if self._eof:
            return False
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("timed out waiting for a reply frame")
            self.sock.settimeout(remaining)
        else:
            self.sock.settimeout(None)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("timed out waiting for a reply frame") from None
        except ConnectionResetError:
            # A peer that closes with our requests still unread in its buffer makes Linux report
            # ECONNRESET once everything it sent has been read: for framing, that is a close.
            self.reset = True
            data = b""
        finally:
            self.sock.settimeout(self.timeout)
        if not data:
            self._eof = True
            return False
        self._buffer.feed(data)
        return True

    def recv_payload(self, timeout: Optional[float] = -1) -> Optional[bytes]:
        """The next reply payload, or None when the server closed the connection at a frame boundary.

        A close inside a frame raises ``ProtocolError("malformed_frame")``. A reset counts as a close
        (and sets ``self.reset``). ``timeout`` -1 means the client's timeout.
        """
        if timeout == -1:
            timeout = self.timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            payload = self._buffer.next_payload()
            if payload is not None:
                return payload
            if not self._fill(deadline):
                if self._buffer.at_boundary():
                    return None
                raise ProtocolError(protocol.MALFORMED_FRAME,
                                    f"the server closed the connection inside a frame ({len(self._buffer)} bytes buffered)")

    def recv_frame(self, timeout: Optional[float] = -1) -> Optional[bytes]:
        """The next raw reply frame (length prefix included), or None on a clean close."""
        payload = self.recv_payload(timeout)
        return None if payload is None else protocol.frame(payload)

    def recv_message(self, timeout: Optional[float] = -1) -> Optional[Message]:
        """The next reply, decoded, or None on a clean close."""
        payload = self.recv_payload(timeout)
        return None if payload is None else protocol.decode_payload(payload, role="client")

    def send_message(self, message_type: str, fields: Optional[Mapping[str, Any]] = None,
                     correlation_id: Optional[int] = None) -> int:
        """Sends one request without waiting; returns its correlation id."""
        if correlation_id is None:
            correlation_id = self.next_correlation_id()
        self.sock.sendall(protocol.encode(message_type, correlation_id, fields or {}))
        return correlation_id

    def request_raw(self, data: bytes, timeout: Optional[float] = -1) -> Optional[bytes]:
        """Sends raw bytes and returns one raw reply frame (or None on a clean close)."""
        self.send_raw(data)
        return self.recv_frame(timeout)

    # --- one request, one reply ---

    def call(self, request: RequestLike) -> Any:
        request = to_request(request)
        correlation_id = self.next_correlation_id()
        try:
            self.send_message(request.type, request.fields, correlation_id)
        except (BrokenPipeError, ConnectionResetError):
            # A server that refuses a connection (e.g. a peer outside the allowlist) writes an error
            # frame and closes at once; our write can then fail before we read. The refusal is
            # still in our receive buffer, and its code is more useful than EPIPE, so read it.
            pass
        deadline_timeout = self.timeout
        while True:
            message = self.recv_message(deadline_timeout)
            if message is None:
                raise ConnectionClosed(f"the server closed the connection before answering {request.type}")
            if message.type == "error":
                # A connection-level error may carry another correlation id (e.g. 0).
                raise result_from_message(message)
            if message.correlation_id != correlation_id:
                continue  # a stale reply (e.g. after a timed-out call); skip it
            expected = protocol.REPLY_OF[request.type]
            if message.type != expected:
                raise ProtocolError(protocol.UNKNOWN_TYPE, f"expected {expected}, got {message.type}")
            return result_from_message(message)

    def ping(self) -> PingResult:
        return self.call(Request("ping"))

    def authorize(self, key: str, model: str, *, estimate_micros: Optional[int] = None,
                  input_tokens: Optional[int] = None, max_output_tokens: Optional[int] = None,
                  tags: Sequence[str] = (), request_id: Optional[str] = None) -> AuthorizeResult:
        return self.call(authorize_request(key, model, estimate_micros=estimate_micros, input_tokens=input_tokens,
                                           max_output_tokens=max_output_tokens, tags=tags, request_id=request_id))

    def settle(self, reservation: str, *, cost_micros: Optional[int] = None, input_tokens: Optional[int] = None,
               output_tokens: Optional[int] = None, status: str = "ok", retries: int = 0) -> SettleResult:
        return self.call(settle_request(reservation, cost_micros=cost_micros, input_tokens=input_tokens,
                                        output_tokens=output_tokens, status=status, retries=retries))

    def release(self, reservation: str) -> ReleaseResult:
        return self.call(release_request(reservation))

    def reload(self) -> ReloadResult:
        return self.call(Request("reload"))

    def credit(self, tenant: str, micros: int, memo: Optional[str] = None,
               request_id: Optional[str] = None) -> CreditResult:
        return self.call(credit_request(tenant, micros, memo, request_id))

    def status(self) -> StatusResult:
        return self.call(Request("status"))

    def usage(self, from_: str, to: str, *, tenant: Optional[str] = None, key: Optional[str] = None,
              tag: Optional[str] = None, by: Sequence[str] = ()) -> UsageResult:
        """The ledger's usage report (admin socket): days ``from_`` to ``to`` included, ``YYYY-MM-DD``."""
        return self.call(usage_request(from_, to, tenant=tenant, key=key, tag=tag, by=by))

    # --- pipelining ---

    def pipeline(self, requests: Iterable[RequestLike], *, return_exceptions: bool = True,
                 timeout: Optional[float] = -1) -> List[Any]:
        """Writes every request without waiting, then matches replies by correlation id.

        Returns results in request order. With ``return_exceptions`` (the default), a request
        answered by an error frame gets its :class:`PurserError`, and requests left unanswered
        when the server closed the connection get a :class:`ConnectionClosed` (or the
        connection-level ``PurserError`` that closed it); otherwise the first of these is raised
        after every reply has been read. Writing and reading are interleaved, so a pipeline longer
        than the server's in-flight limit cannot deadlock. ``timeout`` bounds the wait for progress.
        """
        if timeout == -1:
            timeout = self.timeout
        items = [to_request(item) for item in requests]
        ids = [self.next_correlation_id() for _ in items]
        index_of = {cid: i for i, cid in enumerate(ids)}
        if len(index_of) != len(ids):
            raise ValueError("correlation ids must be unique")
        outgoing = bytearray(b"".join(protocol.encode(r.type, cid, r.fields) for r, cid in zip(items, ids)))
        results: List[Any] = [None] * len(items)
        answered = [False] * len(items)
        pending = len(items)
        connection_error: Optional[BaseException] = None

        self.sock.setblocking(False)
        selector = selectors.DefaultSelector()
        try:
            selector.register(self.sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if outgoing else 0))
            # Replies already buffered (unlikely) are processed first.
            last_progress = time.monotonic()
            while pending and not self._eof:
                while True:
                    payload = self._buffer.next_payload()
                    if payload is None:
                        break
                    message = protocol.decode_payload(payload, role="client")
                    i = index_of.get(message.correlation_id)
                    if i is None or answered[i]:
                        if message.type == "error":
                            connection_error = result_from_message(message)
                            continue
                        raise ProtocolError(protocol.MALFORMED_FRAME,
                                            f"reply with unexpected correlation id {message.correlation_id}")
                    expected = protocol.REPLY_OF[items[i].type]
                    if message.type not in (expected, "error"):
                        raise ProtocolError(protocol.UNKNOWN_TYPE, f"expected {expected}, got {message.type}")
                    results[i] = result_from_message(message)
                    answered[i] = True
                    pending -= 1
                if not pending:
                    break
                wait = None
                if timeout is not None:
                    wait = timeout - (time.monotonic() - last_progress)
                    if wait <= 0:
                        raise TimeoutError(f"pipeline: {pending} of {len(items)} replies missing after {timeout}s")
                events = selector.select(wait)
                for _key, mask in events:
                    if mask & selectors.EVENT_WRITE and outgoing:
                        try:
                            sent = self.sock.send(outgoing)
                        except (BlockingIOError, InterruptedError):
                            sent = 0
                        except (BrokenPipeError, ConnectionResetError):
                            # The server closed; stop writing and read what it said.
                            outgoing.clear()
                            sent = 0
                        if sent:
                            del outgoing[:sent]
                            last_progress = time.monotonic()
                        if not outgoing:
                            selector.modify(self.sock, selectors.EVENT_READ)
                    if mask & selectors.EVENT_READ:
                        try:
                            data = self.sock.recv(65536)
                        except (BlockingIOError, InterruptedError):
                            continue
                        except ConnectionResetError:
                            self.reset = True
                            data = b""
                        if not data:
                            self._eof = True
                        else:
                            self._buffer.feed(data)
                            last_progress = time.monotonic()
            # Drain anything left in the buffer after EOF.
            while True:
                payload = self._buffer.next_payload()
                if payload is None:
                    break
                message = protocol.decode_payload(payload, role="client")
                i = index_of.get(message.correlation_id)
                if i is None or answered[i]:
                    if message.type == "error":
                        connection_error = result_from_message(message)
                    continue
                results[i] = result_from_message(message)
                answered[i] = True
                pending -= 1
            if self._eof and not self._buffer.at_boundary():
                raise ProtocolError(protocol.MALFORMED_FRAME,
                                    f"the server closed the connection inside a frame ({len(self._buffer)} bytes buffered)")
        finally:
            selector.close()
            if not self.closed:
                self.sock.setblocking(True)
                self.sock.settimeout(self.timeout)
        for i in range(len(items)):
            if not answered[i]:
                results[i] = connection_error or ConnectionClosed(
                    f"the server closed the connection before answering request {i} ({items[i].type})")
        if not return_exceptions:
            for result in results:
                if isinstance(result, BaseException):
                    raise result
        return results


class Pipeline:
    """Builds a batch of requests with the Client's method names, then sends them in one go.

        with Client(path) as client:
            p = Pipeline(client)
            p.authorize("sk", "gpt-5.4", estimate_micros=10)
            p.ping()
            results = p.execute()
    """

    def __init__(self, client: Client) -> None:
        self.client = client
        self.requests: List[Request] = []

    def __len__(self) -> int:
        return len(self.requests)

    def add(self, request: RequestLike) -> "Pipeline":
        self.requests.append(to_request(request))
        return self

    def ping(self) -> "Pipeline":
        return self.add(Request("ping"))

    def authorize(self, key: str, model: str, **kwargs: Any) -> "Pipeline":
        return self.add(authorize_request(key, model, **kwargs))

    def settle(self, reservation: str, **kwargs: Any) -> "Pipeline":
        return self.add(settle_request(reservation, **kwargs))

    def release(self, reservation: str) -> "Pipeline":
        return self.add(release_request(reservation))

    def reload(self) -> "Pipeline":
        return self.add(Request("reload"))

    def credit(self, tenant: str, micros: int, memo: Optional[str] = None,
               request_id: Optional[str] = None) -> "Pipeline":
        return self.add(credit_request(tenant, micros, memo, request_id))

    def status(self) -> "Pipeline":
        return self.add(Request("status"))

    def usage(self, from_: str, to: str, **kwargs: Any) -> "Pipeline":
        return self.add(usage_request(from_, to, **kwargs))

    def execute(self, **kwargs: Any) -> List[Any]:
        requests, self.requests = self.requests, []
        return self.client.pipeline(requests, **kwargs)
