"""MTProto transports, sans-I/O: feed bytes, get frames; frame in, bytes out.

* :class:`ClientTransport` / :class:`ServerTransport`: one object per side of a
  connection, composing framing, obfuscated2 and MTProxy fake-TLS; the server
  detects the transport from the first bytes. Their lifecycle:
  :class:`TransportState`, :class:`TransportInput`,
  :data:`CLIENT_TRANSPORT_TRANSITIONS`, :data:`SERVER_TRANSPORT_TRANSITIONS`.
* The layers on their own: framing codecs (:class:`AbridgedCodec`,
  :class:`IntermediateCodec`, :class:`PaddedIntermediateCodec`,
  :class:`FullCodec`), obfuscated2 headers (:mod:`.obfuscation`), MTProxy
  secrets (:class:`ProxySecret`) and fake-TLS (:mod:`.faketls`).
* Events: :class:`Frame`, :class:`QuickAck`, :class:`TransportErrorCode`,
  :class:`TransportDetected`.

Malformed input raises :class:`mtcrypt.errors.TransportError`, whose ``code``
(-404, or -444 for a DC an MTProxy does not serve) is what a server sends back
(``ServerTransport.send_error``) before closing.
"""

from .connection import (
    CLIENT_TRANSPORT_TRANSITIONS,
    SERVER_TRANSPORT_TRANSITIONS,
    ClientTransport,
    ServerTransport,
    Sniffed,
    TransportInput,
    TransportState,
    sniff,
)
from .events import (
    Event,
    Frame,
    Framing,
    QuickAck,
    TransportDetected,
    TransportErrorCode,
    TransportInfo,
)
from .faketls import ClientRandomCache, FakeTlsPolicy, ReplayCache
from .framing import (
    DEFAULT_MAX_FRAME,
    MAX_PADDING,
    TELETHON_MAX_PADDING,
    AbridgedCodec,
    FillPayload,
    FrameCodec,
    FullCodec,
    IntermediateCodec,
    PaddedIntermediateCodec,
    make_codec,
    strip_padding,
)
from .obfuscation import is_forbidden_header, make_client_header, parse_client_header
from .proxy import ProxyLink, ProxySecret, SecretKind, parse_proxy_link

__all__ = [
    "CLIENT_TRANSPORT_TRANSITIONS",
    "DEFAULT_MAX_FRAME",
    "MAX_PADDING",
    "SERVER_TRANSPORT_TRANSITIONS",
    "TELETHON_MAX_PADDING",
    "AbridgedCodec",
    "ClientRandomCache",
    "ClientTransport",
    "Event",
    "FakeTlsPolicy",
    "FillPayload",
    "Frame",
    "FrameCodec",
    "Framing",
    "FullCodec",
    "IntermediateCodec",
    "PaddedIntermediateCodec",
    "ProxyLink",
    "ProxySecret",
    "QuickAck",
    "ReplayCache",
    "SecretKind",
    "ServerTransport",
    "Sniffed",
    "TransportDetected",
    "TransportErrorCode",
    "TransportInfo",
    "TransportInput",
    "TransportState",
    "is_forbidden_header",
    "make_client_header",
    "make_codec",
    "parse_client_header",
    "parse_proxy_link",
    "sniff",
    "strip_padding",
]
