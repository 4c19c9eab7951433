"""A client for ``--target command:...``: mtcrypt's own, following the contract.

::

    python -m mtcrypt conformance \
        --target "command:python -m mtcrypt.testing.conformance.example_client"

The contract (see :class:`~mtcrypt.testing.conformance.adapters.CommandAdapter`):
read the endpoint from ``MTCRYPT_CONFORMANCE_*`` variables (framing,
obfuscation, MTProxy secret, the first obfuscation header candidate, a
temporary key's lifetime, whether it may reconnect), create an auth key (print ``HANDSHAKE OK`` or
``HANDSHAKE FAILED <reason>``), and in ``session`` mode run the probe script --
ping 1; pings 2 and 3 together; ping 4 -- printing ``PONG <ping_id>`` for each
pong that arrives, ``TIMEOUT <ping_id>`` for a ping that got no answer in time
and ``ERROR <text>`` for other failures.  It declares every feature::

    --features full,obfuscated,header_rng,mtproxy,fake_tls,temp_keys,reconnect

Port this file to the client you want to test.
"""

from __future__ import annotations

import asyncio
import os
import sys

from ... import tl
from ..._random import random_bytes
from ..._validation import Rng
from ...aio import Client
from ...handshake.rsa import load_public_key
from ._shared import first_draw
from .adapters import (
    ENV_PREFIX,
    ClientReport,
    SessionProbe,
    describe,
    probe_script,
    reconnect_policy,
)


class _Printing(SessionProbe):
    def __init__(self, client: Client) -> None:
        super().__init__()
        self.client = client

    async def ping(self, ping_id: int, timeout: float) -> bool:
        try:
            await self.client.invoke(
                tl.serialize(tl.make("ping", ping_id=ping_id)), timeout=timeout
            )
        except TimeoutError:
            print(f"TIMEOUT {ping_id}", flush=True)
            return False
        except Exception as exc:
            print(f"ERROR {describe(exc)}", flush=True)
            return False
        print(f"PONG {ping_id}", flush=True)
        return True

    async def close(self) -> None:
        await self.client.close()


def _rng(candidate_hex: str) -> Rng:
    """OS randomness; with a candidate, the first draw of the header's size
    (64 bytes) returns it."""
    if not candidate_hex:
        return random_bytes
    return first_draw(bytes.fromhex(candidate_hex), random_bytes)


async def main() -> int:
    env = os.environ
    timeout = float(env.get(ENV_PREFIX + "PING_TIMEOUT", "3"))
    temp_key = env.get(ENV_PREFIX + "TEMP_KEY_EXPIRES_IN")
    try:
        client = await Client.connect(
            env[ENV_PREFIX + "HOST"],
            int(env[ENV_PREFIX + "PORT"]),
            framing=env.get(ENV_PREFIX + "FRAMING", "intermediate"),
            obfuscated=env.get(ENV_PREFIX + "OBFUSCATED") == "1",
            secret=env.get(ENV_PREFIX + "SECRET") or None,
            dc_id=int(env.get(ENV_PREFIX + "DC", "2")),
            public_keys=[load_public_key(env[ENV_PREFIX + "RSA_PUBLIC_KEY"])],
            temp_key_expires_in=int(temp_key) if temp_key else None,
            timeout=2 * timeout,
            reconnect=reconnect_policy(env.get(ENV_PREFIX + "RECONNECT") == "1"),
            rng=_rng(env.get(ENV_PREFIX + "HEADER_CANDIDATE", "")),
        )
    except Exception as exc:
        print(f"HANDSHAKE FAILED {describe(exc)}", flush=True)
        return 1
    print("HANDSHAKE OK", flush=True)
    probe = _Printing(client)
    try:
        if env.get(ENV_PREFIX + "MODE") == "session":
            await probe_script(probe, ClientReport(), timeout)
    finally:
        await probe.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
