"""Auth-key creation (MTProto 2.0 handshake) building blocks."""

from .pq import factorize_pq

__all__ = ["factorize_pq"]
