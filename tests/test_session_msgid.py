"""msg_id generation (S2) and the replay window (C7) as pure functions, against models."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mtcrypt.errors import InvalidArgument
from mtcrypt.mtproto.msgid import (
    CLIENT,
    NOISE_BITS,
    SERVER_OTHER,
    SERVER_RESPONSE,
    ReplayVerdict,
    ReplayWindow,
    msg_id_time,
    next_msg_id,
)

times = st.floats(1.0e9, 2.0e9, allow_nan=False)  # msg_ids are int64: time < 2**31


@given(st.lists(times, min_size=1, max_size=60), st.sampled_from([CLIENT, SERVER_RESPONSE,
       SERVER_OTHER]), st.lists(st.integers(0, 2**16 - 1), min_size=60, max_size=60))
def test_strictly_increasing_whatever_the_clock(clock: list[float], low: int,
                                               noise: list[int]) -> None:
    last = 0
    for t, n in zip(clock, noise, strict=False):
        msg_id = next_msg_id(t, last, low, n)
        assert msg_id > last and msg_id & 3 == low
        last = msg_id


@given(times, st.integers(0, 2**16 - 1))
def test_time_and_fraction_survive(t: float, noise: int) -> None:
    msg_id = next_msg_id(t, 0, CLIENT, noise)
    assert msg_id >> 32 == int(t)  # whole seconds in the upper half
    # the fraction is in the lower half, blurred only below NOISE_BITS
    assert abs(msg_id_time(msg_id) - t) < 2 ** (NOISE_BITS - 32) + 2**-20
    assert msg_id & 0xFFFFFFFF or t == int(t)


def test_noise_only_in_low_bits() -> None:
    t = 1_700_000_000.5
    ids = {next_msg_id(t, 0, CLIENT, n) for n in range(1 << NOISE_BITS)}
    assert len(ids) == 1 << (NOISE_BITS - 2)
    assert len({i >> NOISE_BITS for i in ids}) == 1


def test_bad_arguments() -> None:
    with pytest.raises(InvalidArgument):
        next_msg_id(1e9, 0, 2)
    with pytest.raises(InvalidArgument, match="int64"):
        next_msg_id(2.2e9, 2**63 - 4, CLIENT)
    with pytest.raises(InvalidArgument):
        ReplayWindow(0)


class Model:
    """The rule as the spec/tdlib state it, written as plainly as possible."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.ids: list[int] = []

    def offer(self, msg_id: int) -> ReplayVerdict | None:
        if msg_id in self.ids:
            return ReplayVerdict.DUPLICATE
        if len(self.ids) >= self.n and msg_id < min(self.ids):
            return ReplayVerdict.BELOW_WINDOW
        self.ids.append(msg_id)
        if len(self.ids) > self.n:
            self.ids.remove(min(self.ids))
        return None


@given(st.integers(1, 12), st.lists(st.integers(0, 40), max_size=200))
def test_replay_window_matches_model(n: int, offers: list[int]) -> None:
    window = ReplayWindow(n)
    model = Model(n)
    for msg_id in offers:
        verdict = window.check(msg_id)
        assert verdict == model.offer(msg_id)
        if verdict is None:
            window.add(msg_id)
        assert sorted(model.ids) == list(window) and len(window) == len(model.ids)
        assert all(i in window for i in model.ids)


@given(st.lists(st.integers(0, 10**6), unique=True, min_size=1, max_size=300))
def test_no_replay_is_ever_accepted(ids: list[int]) -> None:
    """Whatever the order, an id accepted once is refused forever after."""
    window = ReplayWindow(16)
    accepted = []
    for msg_id in ids:
        if window.check(msg_id) is None:
            window.add(msg_id)
            accepted.append(msg_id)
    for msg_id in accepted:
        assert window.check(msg_id) is not None


def test_window_repr_and_equality() -> None:
    a, b = ReplayWindow(3), ReplayWindow(3)
    a.add(5)
    assert a != b and "stored=1" in repr(a) and 5 in a and "5" not in a
    b.add(5)
    assert a == b


def _model_next_msg_id(t: float, last: int, low: int, noise: int) -> int | None:
    """The definition, step by step: whole seconds and the 32-bit fraction apart."""
    seconds = int(t)
    fraction = int((t - seconds) * 2**32) & 0xFFFFFFFF
    candidate = max(((seconds << 32 | fraction) ^ (noise & (2**NOISE_BITS - 1))) & ~3,
                    (last & ~3) + 4)
    msg_id = candidate | low
    return msg_id if 0 < msg_id < 2**63 else None


@given(st.one_of(times, st.floats(-3.0, 3.0), st.floats(-1e12, 1e12),
                 st.sampled_from([0.0, -0.0, 2.0**31, 2.0**31 - 2**-20, -(2.0**-1074)])),
       st.one_of(st.just(0), st.integers(-(2**63), 2**63 - 1)),
       st.sampled_from([CLIENT, SERVER_RESPONSE, SERVER_OTHER]), st.integers(0, 2**16 - 1))
def test_next_msg_id_matches_the_definition(t: float, last: int, low: int, noise: int) -> None:
    """The generator computes ``time * 2**32`` in one step; it must agree with the
    definition for every time, before 1970 included."""
    expected = _model_next_msg_id(t, last, low, noise)
    if expected is None:
        with pytest.raises(InvalidArgument):
            next_msg_id(t, last, low, noise)
    else:
        assert next_msg_id(t, last, low, noise) == expected
