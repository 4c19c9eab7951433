"""Does opening a secret-chat message take longer for one kind of bad packet
than another?  A dudect-style check (Reparaz, Balasch, Verbauwhede 2017):
two classes of packets of the same size that both fail, measured interleaved
in random order, compared with Welch's t-test.  |t| < 4.5 means no difference
was detected.

* ``mac``: a wrong msg_key (what any tampering gives);
* ``length``: a valid msg_key over a plaintext whose length field is out of
  range (what a padding-oracle probe needs to tell apart).

Run: ``python benchmarks/e2e_open_timing.py [--samples N] [--size BYTES]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import statistics
import struct
import time

from mtcrypt.crypto import ige256_encrypt
from mtcrypt.e2e import decrypt_e2e, encrypt_e2e
from mtcrypt.errors import DecryptionFailed
from mtcrypt.mtproto import AuthKey, kdf2


def forged(key: AuthKey, plain: bytes, *, from_creator: bool) -> bytes:
    """A packet whose msg_key is right for ``plain``, whatever it says."""
    x = 0 if from_creator else 8
    msg_key = hashlib.sha256(key.key[88 + x : 120 + x] + plain).digest()[8:24]
    aes_key, aes_iv = kdf2(key, msg_key, from_server=bool(x))
    return key.key_id_bytes + msg_key + ige256_encrypt(plain, aes_key, aes_iv)


def welch_t(a: list[float], b: list[float]) -> float:
    va, vb = statistics.variance(a), statistics.variance(b)
    return (statistics.fmean(a) - statistics.fmean(b)) / math.sqrt(va / len(a) + vb / len(b))


def measure(samples: int, size: int) -> dict[str, object]:
    key = AuthKey(os.urandom(256))
    payload = os.urandom(size)
    good = encrypt_e2e(key, payload, from_creator=True)
    total = len(good) - 24
    mac_bad = bytearray(good)
    mac_bad[10] ^= 1
    plain = struct.pack("<i", total) + os.urandom(total - 4)  # length beyond the data
    length_bad = forged(key, plain, from_creator=True)
    classes = {"mac": bytes(mac_bad), "length": length_bad}
    for packet in classes.values():
        try:
            decrypt_e2e(key, packet, from_creator=True)
        except DecryptionFailed:
            pass
        else:
            raise AssertionError("a bad packet opened")
    times: dict[str, list[float]] = {"mac": [], "length": []}
    order = ["mac", "length"] * samples
    random.shuffle(order)
    clock = time.perf_counter_ns
    for _ in range(2000):  # warm up
        for packet in classes.values():
            try:
                decrypt_e2e(key, packet, from_creator=True)
            except DecryptionFailed:
                pass
    for name in order:
        packet = classes[name]
        start = clock()
        try:
            decrypt_e2e(key, packet, from_creator=True)
        except DecryptionFailed:
            pass
        times[name].append(clock() - start)
    # Crop the slow tail (interrupts, preemption) the way dudect does: keep
    # the measurements under the 90th percentile of all of them.
    cut = sorted(times["mac"] + times["length"])[int(0.9 * 2 * samples)]
    kept = {k: [t for t in v if t < cut] for k, v in times.items()}
    return {
        "payload_bytes": size,
        "samples_per_class": samples,
        "median_ns": {k: statistics.median(v) for k, v in kept.items()},
        "t": welch_t(kept["mac"], kept["length"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=200_000, help="per class")
    parser.add_argument("--size", type=int, action="append", help="payload bytes (repeatable)")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    results = [measure(args.samples, size) for size in args.size or [64, 1024]]
    for r in results:
        medians = r["median_ns"]
        print(
            f"payload {r['payload_bytes']:5d} B: median mac {medians['mac']:.0f} ns, "  # type: ignore[index]
            f"length {medians['length']:.0f} ns, t = {r['t']:+.2f}"  # type: ignore[index]
            f" ({'no difference detected' if abs(r['t']) < 4.5 else 'DIFFERENCE'})"  # type: ignore[arg-type]
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(results, out, indent=2)


if __name__ == "__main__":
    main()
