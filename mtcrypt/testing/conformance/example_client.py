"""A client for ``--target command:...``: mtcrypt's own, following the contract.

::

    python -m mtcrypt conformance \
        --target "command:python -m mtcrypt.testing.conformance.example_client"

The contract (see :class:`~mtcrypt.testing.conformance.adapters.CommandAdapter`):
read the endpoint from ``MTCRYPT_CONFORMANCE_*`` variables, create an auth key
(print ``HANDSHAKE OK`` or ``HANDSHAKE FAILED <reason>``), and in ``session``
mode run the probe script -- ping 1; pings 2 and 3 together; ping 4 --
printing ``PONG <ping_id>`` for each pong that arrives and ``ERROR <text>``
for failures.  Port this file to the client you want to test.
"""

from __future__ import annotations

import asyncio
import os
import sys

from ... import tl
from ...aio import Client
from ...handshake.rsa import load_public_key
from .adapters import ENV_PREFIX, ClientReport, SessionProbe, describe, probe_script


class _Printing(SessionProbe):
    def __init__(self, client: Client) -> None:
        super().__init__()
        self.client = client

    async def ping(self, ping_id: int, timeout: float) -> bool:
        try:
            await self.client.invoke(
                tl.serialize(tl.make("ping", ping_id=ping_id)), timeout=timeout
            )
        except Exception as exc:
            print(f"ERROR {describe(exc)}", flush=True)
            return False
        print(f"PONG {ping_id}", flush=True)
        return True

    async def close(self) -> None:
        await self.client.close()


async def main() -> int:
    env = os.environ
    timeout = float(env.get(ENV_PREFIX + "PING_TIMEOUT", "3"))
    secret = env.get(ENV_PREFIX + "SECRET") or None
    try:
        client = await Client.connect(
            env[ENV_PREFIX + "HOST"],
            int(env[ENV_PREFIX + "PORT"]),
            framing="padded_intermediate"
            if secret
            else env.get(ENV_PREFIX + "FRAMING", "intermediate"),
            obfuscated=env.get(ENV_PREFIX + "OBFUSCATED") == "1",
            secret=secret,
            dc_id=int(env.get(ENV_PREFIX + "DC", "2")),
            public_keys=[load_public_key(env[ENV_PREFIX + "RSA_PUBLIC_KEY"])],
            timeout=2 * timeout,
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
