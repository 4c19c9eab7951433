"""Key visualization: what two users compare to rule out a man in the middle.

core.telegram.org/api/end-to-end/pfs ("Key Visualization"): 36 bytes,
``SHA1(original key)[0:16] + SHA256(key in use when the chat reached layer
46)[0:20]``; for a chat created at layer 46 or later both are the original
key. It stays tied to the original key across re-keying (re-keying runs inside
the channel the original exchange authenticated). Chats that never reached
layer 46 have only the 16 SHA-1 bytes.

Renderings, as the official clients draw them:

* :meth:`KeyVisualization.pixels` / :meth:`~KeyVisualization.png`: split the
  36 bytes into 2-bit groups (least significant bits of each byte first),
  each a pixel of colour ``FFFFFF``, ``D5E6F3``, ``2D5775`` or ``2F99C9``,
  filling a 12x12 square left to right, top to bottom (8x8 for 16 bytes)
  (tdlib td_api.tl ``secretChat.key_hash``; Telegram for Android
  ``IdenticonDrawable``);
* :meth:`~KeyVisualization.hex_lines`: the first 32 bytes as hex, 8 bytes per
  line in groups of 4 (Android ``IdenticonActivity``);
* :meth:`~KeyVisualization.emoji`: five emoji from bytes 16..35 (Android
  ``IdenticonActivity``: each 4-byte group big-endian with the top bit cleared,
  modulo the 333-entry ``EmojiData.emojiSecret`` table). Android computes this
  string but its screen never shows it (the toggle is commented out), and no
  other client (tdlib, iOS, Desktop) derives emoji for secret chats: treat it as
  a convenience, not something the peer's app will display.
"""

from __future__ import annotations

import struct
import zlib

from .._validation import BytesLike, is_int
from ..crypto import sha1, sha256
from ..errors import InvalidArgument
from ..mtproto import AuthKey
from ._emoji import EMOJI_SECRET

__all__ = ["COLORS", "KeyVisualization"]

COLORS: tuple[int, int, int, int] = (0xFFFFFF, 0xD5E6F3, 0x2D5775, 0x2F99C9)
"""The four pixel colours (RGB), indexed by the 2-bit value."""

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _key_bytes(key: AuthKey | BytesLike, what: str) -> bytes:
    if isinstance(key, AuthKey):
        return key.key
    if isinstance(key, BytesLike) and len(key) == 256:
        return bytes(key)
    raise InvalidArgument(f"{what} must be an AuthKey or 256 bytes")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


class KeyVisualization:
    """The key hash of a secret chat and its renderings (no secret: it is
    meant to be shown and compared)."""

    __slots__ = ("key_hash",)

    def __init__(self, key_hash: bytes) -> None:
        if not isinstance(key_hash, bytes) or len(key_hash) not in (16, 36):
            raise InvalidArgument("key_hash must be 36 bytes (16 for chats before layer 46)")
        self.key_hash = key_hash

    @classmethod
    def from_keys(
        cls, original_key: AuthKey | BytesLike, layer46_key: AuthKey | BytesLike | None = None
    ) -> KeyVisualization:
        """From the chat's original key and the key in use when it reached
        layer 46 (default: the original key, right for chats created at 46+)."""
        original = _key_bytes(original_key, "original_key")
        later = original if layer46_key is None else _key_bytes(layer46_key, "layer46_key")
        return cls(sha1(original)[:16] + sha256(later)[:20])

    @classmethod
    def legacy(cls, original_key: AuthKey | BytesLike) -> KeyVisualization:
        """A chat that never reached layer 46: 16 bytes, an 8x8 picture."""
        return cls(sha1(_key_bytes(original_key, "original_key"))[:16])

    @property
    def size(self) -> int:
        """Pixels per side: 12 (8 for the 16-byte legacy hash)."""
        return 12 if len(self.key_hash) == 36 else 8

    def pixels(self) -> tuple[tuple[int, ...], ...]:
        """Colour indices (0..3 into :data:`COLORS`), row by row."""
        data = self.key_hash
        n = self.size
        values = [(data[bit // 8] >> (bit % 8)) & 3 for bit in range(0, 2 * n * n, 2)]
        return tuple(tuple(values[row * n : (row + 1) * n]) for row in range(n))

    def png(self, scale: int = 16, border: int = 0) -> bytes:
        """A PNG (8-bit palette) of the picture, each pixel ``scale`` x ``scale``,
        with ``border`` white pixels (at that scale) around it."""
        if not is_int(scale) or not 1 <= scale <= 256:
            raise InvalidArgument("scale must be an int in 1..256")
        if not is_int(border) or not 0 <= border <= 64:
            raise InvalidArgument("border must be an int in 0..64")
        grid = self.pixels()
        cells = len(grid) + 2 * border
        side = cells * scale
        rows = bytearray()
        blank = [0] * border
        for cell_row in range(cells):
            inner = cell_row - border
            colours = blank + list(grid[inner]) + blank if 0 <= inner < len(grid) else [0] * cells
            line = b"\x00" + b"".join(bytes([c]) * scale for c in colours)
            rows += line * scale
        palette = b"".join(c.to_bytes(3, "big") for c in COLORS)
        return (
            _PNG_SIGNATURE
            + _chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 3, 0, 0, 0))
            + _chunk(b"PLTE", palette)
            + _chunk(b"IDAT", zlib.compress(bytes(rows), 9))
            + _chunk(b"IEND", b"")
        )

    def hex(self) -> str:
        """The first 32 bytes as 64 hex digits."""
        return self.key_hash[:32].hex()

    def hex_lines(self) -> list[str]:
        """The first 32 bytes as Android shows them: 4 lines of
        ``aa bb cc dd  ee ff 00 11`` (two groups of four bytes)."""
        data = self.key_hash[:32]
        lines = []
        for start in range(0, min(32, len(data)), 8):
            row = data[start : start + 8]
            lines.append(
                " ".join(f"{b:02x}" for b in row[:4]) + "  " + " ".join(f"{b:02x}" for b in row[4:])
            )
        return lines

    def emoji(self) -> tuple[str, ...]:
        """Five emoji from bytes 16..35, as Telegram for Android derives them
        (computed there but not displayed; see the module docs)."""
        if len(self.key_hash) != 36:
            raise InvalidArgument("emoji need the 36-byte key hash")
        out = []
        for i in range(5):
            (value,) = struct.unpack_from(">I", self.key_hash, 16 + 4 * i)
            out.append(EMOJI_SECRET[(value & 0x7FFFFFFF) % len(EMOJI_SECRET)])
        return tuple(out)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KeyVisualization):
            return NotImplemented
        return self.key_hash == other.key_hash

    def __hash__(self) -> int:
        return hash(self.key_hash)

    def __repr__(self) -> str:
        return f"KeyVisualization({self.size}x{self.size})"
