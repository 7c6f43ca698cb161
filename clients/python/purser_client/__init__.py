"""Reference Python client for Purser, the local policy decision daemon (protocol version 1).

    from purser_client import Client
    with Client("/run/purser/purser.sock") as client:
        decision = client.authorize("sk-...", "gpt-5.4", estimate_micros=1500)
        if decision.allowed:
            client.settle(decision.reservation, cost_micros=1234)

Standard library only. ``purser_client.protocol`` is the low-level codec.
"""
from . import protocol
from .client import (
    AuthorizeResult,
    Client,
    ConnectionClosed,
    CreditResult,
    PingResult,
    Pipeline,
    PurserError,
    ReleaseResult,
    ReloadResult,
    Request,
    SettleResult,
    StatusResult,
    UsageResult,
    as_dict,
    authorize_request,
    credit_request,
    release_request,
    result_from_message,
    settle_request,
    usage_request,
)
from .protocol import Message, ProtocolError, decode, decode_payload, encode, encode_payload

__version__ = "0.1.0"

__all__ = [
    "AuthorizeResult", "Client", "ConnectionClosed", "CreditResult", "Message", "PingResult", "Pipeline",
    "ProtocolError", "PurserError", "ReleaseResult", "ReloadResult", "Request", "SettleResult", "StatusResult",
    "UsageResult", "as_dict", "authorize_request", "credit_request", "decode", "decode_payload", "encode", "encode_payload",
    "protocol", "release_request", "result_from_message", "settle_request", "usage_request", "__version__",
]
