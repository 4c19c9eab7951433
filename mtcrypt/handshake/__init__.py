"""Auth-key creation (the MTProto 2.0 handshake), both roles, sans-I/O.

* :class:`ClientHandshake` / :class:`ServerHandshake`: the state machines
  (``start()``/``receive(packet)``; packets are unencrypted MTProto messages);
  :class:`HandshakeResult` is what they produce. Their states, inputs and
  transition tables: :class:`ClientState`, :class:`ClientInput`,
  :data:`CLIENT_TRANSITIONS`; :class:`ServerState`, :class:`ServerInput`,
  :data:`SERVER_TRANSITIONS`.
* :mod:`.rsa`: keys, Telegram fingerprints, RSA_PAD and the legacy padding.
* :mod:`.dh`: DH parameter validation and constant-time exponentiation.
* :mod:`.bind`: ``auth.bindTempAuthKey`` for temporary (PFS) keys.
* :func:`factorize_pq`: the client's proof of work, in C.
"""

from ._common import (
    HandshakeResult,
    RsaScheme,
    dh_params_fail_hash,
    int_to_be,
    new_nonce_hash,
    server_salt,
    tmp_aes_key_iv,
)
from .bind import bind_temp_auth_key, verify_bind_temp_auth_key
from .client import CLIENT_TRANSITIONS, ClientHandshake, ClientInput, ClientState
from .dh import (
    TELEGRAM_DH_G,
    TELEGRAM_DH_PRIME,
    DhPrimeCache,
    check_dh_params,
    check_dh_value,
    is_safe_prime,
)
from .pq import factorize_pq
from .rsa import (
    TELEGRAM_PRODUCTION_KEYS,
    TELEGRAM_TEST_KEYS,
    RsaPrivateKey,
    RsaPublicKey,
    generate_private_key,
    load_private_key,
    load_public_key,
    rsa_pad_decrypt,
    rsa_pad_encrypt,
    telegram_fingerprint,
)
from .server import (
    SERVER_TRANSITIONS,
    DhGenAnswer,
    ServerHandshake,
    ServerInput,
    ServerState,
    generate_pq,
)

__all__ = [
    "CLIENT_TRANSITIONS",
    "SERVER_TRANSITIONS",
    "TELEGRAM_DH_G",
    "TELEGRAM_DH_PRIME",
    "TELEGRAM_PRODUCTION_KEYS",
    "TELEGRAM_TEST_KEYS",
    "ClientHandshake",
    "ClientInput",
    "ClientState",
    "DhGenAnswer",
    "DhPrimeCache",
    "HandshakeResult",
    "RsaPrivateKey",
    "RsaPublicKey",
    "RsaScheme",
    "ServerHandshake",
    "ServerInput",
    "ServerState",
    "bind_temp_auth_key",
    "check_dh_params",
    "check_dh_value",
    "dh_params_fail_hash",
    "factorize_pq",
    "generate_pq",
    "generate_private_key",
    "int_to_be",
    "is_safe_prime",
    "load_private_key",
    "load_public_key",
    "new_nonce_hash",
    "rsa_pad_decrypt",
    "rsa_pad_encrypt",
    "server_salt",
    "telegram_fingerprint",
    "tmp_aes_key_iv",
    "verify_bind_temp_auth_key",
]
