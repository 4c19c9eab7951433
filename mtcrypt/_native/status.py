"""Native status codes turned into the one exception hierarchy, in one place.

Every call into the core that can fail goes through :func:`check`: a status
is never ignored, and never surfaces as anything but an
:mod:`mtcrypt.errors` class.
"""

from __future__ import annotations

from ..errors import (
    BackendUnavailable,
    DecryptionFailed,
    InvalidArgument,
    MtcryptError,
    OutOfMemory,
)
from . import lib

__all__ = ["check", "status_error"]

_OK = lib.MTC_OK
_ERR_ARG = lib.MTC_ERR_ARG
_ERR_DECRYPT = lib.MTC_ERR_DECRYPT
_ERR_UNAVAILABLE = lib.MTC_ERR_UNAVAILABLE
_ERR_NOMEM = lib.MTC_ERR_NOMEM


def status_error(rc: int, what: str) -> MtcryptError:
    """The exception for a failed status ``rc`` of the native ``what``."""
    if rc == _ERR_DECRYPT:
        return DecryptionFailed()
    if rc == _ERR_ARG:
        # The Python side validates every argument first, so this is a bug guard.
        return InvalidArgument(f"{what}: the native core refused its arguments")
    if rc == _ERR_UNAVAILABLE:
        return BackendUnavailable(f"{what}: not supported by this CPU")
    if rc == _ERR_NOMEM:
        return OutOfMemory(f"{what}: the native core could not allocate scratch memory")
    return MtcryptError(f"{what}: unknown native status {rc}")


def check(rc: int, what: str) -> int:
    """``rc`` when it is a success (``>= 0``: some calls return a length);
    otherwise raise :func:`status_error`."""
    if rc < _OK:
        raise status_error(rc, what)
    return rc
