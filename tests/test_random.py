"""The native padding generator: distinct output, fork and thread safety."""

from __future__ import annotations

import os
import threading
import zlib

import pytest

from mtcrypt._random import random_bytes


def test_lengths_and_no_repeats() -> None:
    assert random_bytes(0) == b""
    assert len(random_bytes(1)) == 1
    draws = [random_bytes(16) for _ in range(2000)]
    assert len(set(draws)) == len(draws)
    big = random_bytes(1 << 16)
    assert len(big) == 1 << 16
    # Not a statistical test suite; just refuse obviously broken output.
    assert len(zlib.compress(big)) > len(big) * 0.99
    assert 0.45 < sum(bin(b).count("1") for b in big) / (8 * len(big)) < 0.55


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_does_not_repeat_parent() -> None:
    random_bytes(10)  # make sure the parent's state exists before forking
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.write(write_fd, random_bytes(64))
        os._exit(0)
    os.close(write_fd)
    child = os.read(read_fd, 64)
    os.waitpid(pid, 0)
    parent = random_bytes(64)
    assert len(child) == 64 and child != parent


def test_threads_get_distinct_streams() -> None:
    results: list[bytes] = []
    lock = threading.Lock()

    def work() -> None:
        data = random_bytes(64)
        with lock:
            results.append(data)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 8
