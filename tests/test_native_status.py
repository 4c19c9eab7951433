"""Every native status becomes an mtcrypt.errors class (mtcrypt._native.status)."""

from __future__ import annotations

import pytest

from mtcrypt._native import lib
from mtcrypt._native.status import check, status_error
from mtcrypt.errors import (
    BackendUnavailable,
    DecryptionFailed,
    InvalidArgument,
    MtcryptError,
    OutOfMemory,
)


@pytest.mark.parametrize(
    ("rc", "kind"),
    [
        (lib.MTC_ERR_ARG, InvalidArgument),
        (lib.MTC_ERR_DECRYPT, DecryptionFailed),
        (lib.MTC_ERR_UNAVAILABLE, BackendUnavailable),
        (lib.MTC_ERR_NOMEM, OutOfMemory),
        (-99, MtcryptError),
    ],
)
def test_failures_map_to_the_hierarchy(rc: int, kind: type[Exception]) -> None:
    with pytest.raises(kind) as info:
        check(rc, "thing")
    assert type(info.value) is kind
    assert type(status_error(rc, "thing")) is kind
    if kind is not DecryptionFailed:  # opaque by design
        assert "thing" in str(info.value)


def test_successes_pass_through() -> None:
    assert check(lib.MTC_OK, "thing") == 0
    assert check(42, "a length") == 42


def test_out_of_memory_is_also_a_memory_error() -> None:
    assert issubclass(OutOfMemory, MemoryError) and issubclass(OutOfMemory, MtcryptError)
