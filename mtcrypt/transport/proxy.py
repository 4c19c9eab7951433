"""MTProxy secrets (digest §6.4 step 5 and §6.5, checklist T3).

Exactly three forms are accepted, tested by length first as tdlib does
(so a 16-byte key that happens to start with ``dd`` is still plain):

* 16 bytes: a plain key;
* 17 bytes ``dd || key16``: the client must use padded intermediate;
* ``ee || key16 || domain`` (domain 1..182 bytes of printable ASCII): fake-TLS,
  which also uses padded intermediate inside the TLS records.

Text forms: hex (tried first), then base64url or standard base64, with or
without ``=`` padding (links carry ``ee`` secrets as base64url).  Anything else
raises ``InvalidArgument``.  Neither ``repr`` nor any error message shows the key.
"""

from __future__ import annotations

import base64
import binascii
import enum
import string
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import parse_qs, urlencode, urlsplit

from ..crypto import sha256
from ..errors import InvalidArgument, InvalidLength, InvalidType

__all__ = ["MAX_DOMAIN_LENGTH", "ProxyLink", "ProxySecret", "SecretKind", "parse_proxy_link"]

MAX_DOMAIN_LENGTH: Final = 182
_HEX: Final = frozenset(string.hexdigits)
_DOMAIN_BYTES: Final = frozenset(range(0x21, 0x7F))


class SecretKind(enum.Enum):
    PLAIN = "plain"
    PADDED = "dd"
    FAKE_TLS = "ee"


@dataclass(frozen=True)
class ProxySecret:
    """A validated MTProxy secret; build it with :meth:`parse`."""

    key: bytes = field(repr=False)
    kind: SecretKind
    domain: str | None = None

    def __post_init__(self) -> None:
        if type(self.key) is not bytes or len(self.key) != 16:
            raise InvalidLength("an MTProxy key is 16 bytes")
        if not isinstance(self.kind, SecretKind):
            raise InvalidType("kind must be a SecretKind")
        if (self.kind is SecretKind.FAKE_TLS) != (self.domain is not None):
            raise InvalidArgument("a domain goes with, and only with, an ee (fake-TLS) secret")
        if self.domain is not None:
            _check_domain(self.domain.encode("ascii", "replace"))

    @classmethod
    def parse(cls, value: str | bytes | bytearray | ProxySecret) -> ProxySecret:
        """Parse a secret given as raw bytes, hex, or base64(url) text."""
        if isinstance(value, ProxySecret):
            return value
        if isinstance(value, str):
            raw = _decode_text(value.strip())
        elif isinstance(value, bytes | bytearray):
            raw = bytes(value)
        else:
            raise InvalidType(f"a proxy secret is str or bytes, not {type(value).__name__}")
        return cls.from_bytes(raw)

    @classmethod
    def from_bytes(cls, raw: bytes) -> ProxySecret:
        n = len(raw)
        if n == 16:
            return cls(bytes(raw), SecretKind.PLAIN)
        if n == 17 and raw[0] == 0xDD:
            return cls(bytes(raw[1:]), SecretKind.PADDED)
        if n > 17 and raw[0] == 0xEE:
            domain = bytes(raw[17:])
            _check_domain(domain)
            return cls(bytes(raw[1:17]), SecretKind.FAKE_TLS, domain.decode("ascii"))
        raise InvalidArgument(
            "an MTProxy secret is 16 bytes, dd + 16 bytes, or ee + 16 bytes + domain; "
            f"got {n} bytes"
        )

    def __bytes__(self) -> bytes:
        """The full secret, marker (and domain) included."""
        if self.kind is SecretKind.PLAIN:
            return self.key
        if self.kind is SecretKind.PADDED:
            return b"\xdd" + self.key
        assert self.domain is not None
        return b"\xee" + self.key + self.domain.encode("ascii")

    @property
    def padded(self) -> bool:
        """The client must use padded intermediate (``dd`` and ``ee`` secrets)."""
        return self.kind is not SecretKind.PLAIN

    @property
    def fake_tls(self) -> bool:
        return self.kind is SecretKind.FAKE_TLS

    def hex(self) -> str:
        return bytes(self).hex()

    def base64url(self) -> str:
        return base64.urlsafe_b64encode(bytes(self)).decode("ascii").rstrip("=")

    def link_form(self) -> str:
        """How proxy links spell it: base64url for ``ee`` secrets, hex otherwise."""
        return self.base64url() if self.fake_tls else self.hex()

    def derive(self, key: bytes) -> bytes:
        """``SHA256(key || secret16)``: an obfuscation key under this secret."""
        return sha256(bytes(key) + self.key)


def _check_domain(domain: bytes) -> None:
    if not 1 <= len(domain) <= MAX_DOMAIN_LENGTH:
        raise InvalidArgument(f"an ee secret's domain is 1..{MAX_DOMAIN_LENGTH} bytes")
    if not _DOMAIN_BYTES.issuperset(domain):
        raise InvalidArgument("an ee secret's domain must be printable ASCII")


def _decode_text(text: str) -> bytes:
    if not text:
        raise InvalidArgument("empty proxy secret")
    if len(text) % 2 == 0 and _HEX.issuperset(text):
        return bytes.fromhex(text)
    padded = text + "=" * (-len(text) % 4)
    for altchars in (b"-_", b"+/"):
        try:
            return base64.b64decode(padded, altchars=altchars, validate=True)
        except (binascii.Error, ValueError):
            continue
    raise InvalidArgument("a proxy secret must be hex, base64url or base64")


@dataclass(frozen=True)
class ProxyLink:
    server: str
    port: int
    secret: ProxySecret

    def url(self) -> str:
        """The ready-to-share ``tg://proxy?server=…&port=…&secret=…`` link
        (the secret in :meth:`ProxySecret.link_form`); :func:`parse_proxy_link`
        reads it back."""
        query = urlencode(
            {"server": self.server, "port": str(self.port), "secret": self.secret.link_form()}
        )
        return f"tg://proxy?{query}"


def parse_proxy_link(link: str) -> ProxyLink:
    """Parse ``tg://proxy?server=…&port=…&secret=…`` or the same query on
    ``https://t.me/proxy``; the secret is validated like :meth:`ProxySecret.parse`."""
    if not isinstance(link, str):
        raise InvalidType("an MTProxy link must be a str")
    try:
        parts = urlsplit(link.strip())
    except ValueError:  # urlsplit's own complaint (e.g. an unbalanced "[")
        raise InvalidArgument("not an MTProxy link: malformed URL") from None
    is_tg = parts.scheme == "tg" and parts.netloc == "proxy"
    is_web = parts.scheme in ("http", "https") and parts.netloc in ("t.me", "telegram.me")
    if not (is_tg or (is_web and parts.path == "/proxy")):
        raise InvalidArgument("not an MTProxy link (tg://proxy or https://t.me/proxy)")
    query = parse_qs(parts.query, keep_blank_values=False)
    try:
        (server,), (port_text,), (secret,) = query["server"], query["port"], query["secret"]
    except (KeyError, ValueError):
        raise InvalidArgument("an MTProxy link needs one server, port and secret") from None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise InvalidArgument("bad port in MTProxy link")
    return ProxyLink(server, int(port_text), ProxySecret.parse(secret))
