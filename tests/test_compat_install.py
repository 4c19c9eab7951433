"""mtcrypt.compat.install() and the startup hook, with the real Telethon and Pyrogram.

install() and the clients' import-time detection of cryptg/tgcrypto are process-wide, so
every scenario runs in its own interpreter (``sys.executable -c``) and prints its
findings as JSON; the three heavy scenarios (each imports Telethon and/or Pyrogram) start
together when the module's first test asks for them.  Values the subprocesses compute
through mtcrypt are compared with the real cryptg/tgcrypto, imported here in the parent as
usual, or loaded in the subprocess from their files under another name (an oracle).

A user without cryptg/tgcrypto is simulated by swapping the path finder in sys.meta_path
for one that does not see those two names: the installed distributions stay invisible,
while finders after it (mtcrypt's, which install() appends at the end) still answer.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import require

import mtcrypt.compat as compat
from mtcrypt.errors import InvalidType, MtcryptError, StartupHookError

real_cryptg = require("cryptg")
real_tgcrypto = require("tgcrypto")
for _client in ("telethon", "pyrogram"):
    if importlib.util.find_spec(_client) is None:  # not imported here: ~2 s
        pytest.skip(f"{_client} is not installed", allow_module_level=True)

pytestmark = pytest.mark.interop

# Shared by every subprocess.  If the environment has mtcrypt's startup hook enabled, it
# is undone first, so that each scenario starts from a plain interpreter.
PRELUDE = """
import importlib, importlib.machinery, importlib.util, json, logging, os, random, struct
import sys, time, warnings

if "mtcrypt.compat" in sys.modules:
    sys.modules["mtcrypt.compat"].uninstall()

HIDDEN = ("cryptg", "tgcrypto")


class HideReal:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.partition(".")[0] in HIDDEN:
            return None
        return importlib.machinery.PathFinder.find_spec(name, path, target)

    @staticmethod
    def invalidate_caches():
        importlib.machinery.PathFinder.invalidate_caches()


def hide_real():
    sys.meta_path[sys.meta_path.index(importlib.machinery.PathFinder)] = HideReal


def load_real(name):
    # The real extension, from its file, under another name: an oracle.
    spec = importlib.machinery.PathFinder.find_spec(name)
    if spec.submodule_search_locations:  # cryptg: a package around cryptg.cryptg
        spec = importlib.machinery.PathFinder.find_spec(
            name + "." + name, spec.submodule_search_locations
        )
    oracle = importlib.util.spec_from_file_location("_oracle." + name, spec.origin)
    module = importlib.util.module_from_spec(oracle)
    oracle.loader.exec_module(module)
    return module


LOGS = []


class Capture(logging.Handler):
    def emit(self, record):
        if record.name.startswith(("telethon.crypto", "pyrogram.crypto")):
            LOGS.append([record.name, record.levelname, record.getMessage()])


logging.getLogger().addHandler(Capture())
logging.getLogger().setLevel(logging.INFO)

COUNTS = {}


def count(owner, attr, label):
    fn = getattr(owner, attr)

    def wrapper(*args, **kwargs):
        COUNTS[label] = COUNTS.get(label, 0) + 1
        return fn(*args, **kwargs)

    setattr(owner, attr, wrapper)


def calls(label, before):
    return COUNTS.get(label, 0) - before.get(label, 0)


def finders():
    return [i for i, f in enumerate(sys.meta_path) if "mtcrypt compat finder" in repr(f)]


def fixed_random(seed):
    return random.Random(seed).randbytes


def caught(record):
    return [
        [w.category.__name__, issubclass(w.category, RuntimeWarning), str(w.message),
         w.filename]
        for w in record
    ]


OUT = {}
"""

# No cryptg/tgcrypto; install() first; then Telethon and Pyrogram, which detect the shims.
SCENARIO_WITHOUT_REAL = """
hide_real()
OUT["real_visible"] = [importlib.util.find_spec(n) is not None for n in HIDDEN]

import mtcrypt.compat

OUT["install"] = mtcrypt.compat.install()
OUT["install_again"] = mtcrypt.compat.install()
OUT["finders"] = finders()
OUT["meta_path_len"] = len(sys.meta_path)
OUT["core_loaded_by_install"] = sorted(
    m for m in sys.modules
    if m.startswith(("mtcrypt._native", "mtcrypt.crypto", "mtcrypt.compat.", "mtcrypt.mtproto"))
    and m != "mtcrypt.compat._install"
)

import telethon
from telethon.crypto import AES
from telethon.crypto import AuthKey as TelethonKey
from telethon.crypto import aes as t_aes
from telethon.network.mtprotostate import MTProtoState
import pyrogram.crypto.aes as p_aes
from pyrogram.crypto import mtproto as p_mtproto
from pyrogram.raw.core import Message
from pyrogram.raw.functions import Ping
from pyrogram.raw.types import Pong
from io import BytesIO

OUT["logs"] = LOGS

import cryptg
import tgcrypto
import mtcrypt.compat.cryptg as shim_c
import mtcrypt.compat.tgcrypto as shim_t
import mtcrypt.crypto.aes as core
from mtcrypt.mtproto import AuthKey, InnerMessage, decrypt_message, encrypt_message

OUT["alias"] = {
    "telethon_uses_it": t_aes.cryptg is cryptg,
    "pyrogram_uses_it": p_aes.tgcrypto is tgcrypto,
    "marked": [mtcrypt.compat.is_shim(cryptg), mtcrypt.compat.is_shim(tgcrypto)],
    "names": [cryptg.__name__, tgcrypto.__name__],
    "distinct": [cryptg is not shim_c, tgcrypto is not shim_t],
    "same_functions": [
        all(getattr(cryptg, n) is getattr(shim_c, n) for n in shim_c.__all__),
        all(getattr(tgcrypto, n) is getattr(shim_t, n) for n in shim_t.__all__),
    ],
    "all": [sorted(cryptg.__all__), sorted(tgcrypto.__all__)],
    "shim_specs": [shim_c.__spec__.name, shim_t.__spec__.name],
    "repr": repr(cryptg),
    "file": cryptg.__file__,
}

# Count the calls that reach mtcrypt: IGE in the crypto core (both shims call it), CTR
# at the tgcrypto alias (its functions are the shim's; Pyrogram looks them up per call).
count(core, "ige256_encrypt", "ige_enc")
count(core, "ige256_decrypt", "ige_dec")
count(tgcrypto, "ctr256_encrypt", "ctr_enc")
count(tgcrypto, "ctr256_decrypt", "ctr_dec")

rng = random.Random(1)
key, iv = rng.randbytes(32), rng.randbytes(32)
OUT["key"], OUT["iv"] = key.hex(), iv.hex()
before = dict(COUNTS)
prims = []
for n in (16, 64, 4096):
    data = rng.randbytes(n)
    prims.append({
        "data": data.hex(),
        "telethon_enc": AES.encrypt_ige(data, key, iv).hex(),
        "telethon_dec": AES.decrypt_ige(data, key, iv).hex(),
        "pyrogram_enc": p_aes.ige256_encrypt(data, key, iv).hex(),
        "pyrogram_dec": p_aes.ige256_decrypt(data, key, iv).hex(),
    })
OUT["ige"] = prims
ctr_iv = rng.randbytes(16)
OUT["ctr_iv"] = ctr_iv.hex()
counter, state = bytearray(ctr_iv), bytearray(1)
ctr = []
for i, n in enumerate((1, 15, 16, 17, 33, 100, 5)):
    data = rng.randbytes(n)
    fn = p_aes.ctr256_encrypt if i % 2 == 0 else p_aes.ctr256_decrypt
    out = fn(data, key, counter, state)
    ctr.append([data.hex(), bytes(out).hex(), bytes(counter).hex(), state[0]])
OUT["ctr"] = ctr
OUT["prim_calls"] = {k: calls(k, before) for k in ("ige_enc", "ige_dec", "ctr_enc", "ctr_dec")}

# Whole messages: Telethon's and Pyrogram's own code, mtcrypt against the real packages
# (loaded as oracles) with the same padding bytes, and against mtcrypt.mtproto.
oracle_c, oracle_t = load_real("cryptg"), load_real("tgcrypto")
OUT["oracles"] = [mtcrypt.compat.is_shim(m) for m in (oracle_c, oracle_t, cryptg, tgcrypto)]
raw = rng.randbytes(256)
mkey = AuthKey(raw)
salt, session = 0x0102030405060708, 0x1112131415161718
session_bytes = struct.pack("<q", session)
client_msg_id = (int(time.time()) << 32) | 4


class Loggers(dict):
    def __missing__(self, name):
        return logging.getLogger(name)


class Blob:  # a TL body already serialized, of any size, for Pyrogram's Message
    def __init__(self, data):
        self.data = data

    def write(self, *args):
        return self.data


tstate = MTProtoState(TelethonKey(raw), loggers=Loggers())
tstate.salt, tstate.id = salt, session
real_urandom = os.urandom
messages = []
for k, size in enumerate((256, 4096)):
    row = {"size": size}
    server_msg_id = (int(time.time()) << 32) | (2 * k + 1)

    # Telethon, client to server: MTProtoState.encrypt_message_data
    body = Ping(ping_id=7).write() + rng.randbytes(size - 12)
    data = struct.pack("<qii", client_msg_id, 3, len(body)) + body
    before = dict(COUNTS)
    os.urandom = fixed_random(k)
    ours = tstate.encrypt_message_data(data)
    row["telethon_enc_calls"] = calls("ige_enc", before)
    os.urandom, t_aes.cryptg = fixed_random(k), oracle_c
    theirs = tstate.encrypt_message_data(data)
    os.urandom, t_aes.cryptg = real_urandom, cryptg
    inner = InnerMessage.parse(decrypt_message(mkey, ours, from_server=False))
    row["telethon_enc_identical"] = ours == theirs
    row["telethon_enc_opens"] = [inner.salt == salt, inner.session_id == session,
                                 inner.msg_id == client_msg_id, inner.body == body]

    # Telethon, server to client: MTProtoState.decrypt_message_data
    pong = Pong(msg_id=client_msg_id, ping_id=7).write() + rng.randbytes(size - 20)
    packet = encrypt_message(
        mkey, InnerMessage(salt, session, server_msg_id, 1, pong).pack(), from_server=True
    )
    before = dict(COUNTS)
    got = tstate.decrypt_message_data(packet)
    row["telethon_dec_calls"] = calls("ige_dec", before)
    tstate._highest_remote_id = 0
    tstate._recent_remote_ids.clear()
    t_aes.cryptg = oracle_c
    got_real = tstate.decrypt_message_data(packet)
    t_aes.cryptg = cryptg
    row["telethon_dec"] = [got.msg_id == server_msg_id, got.obj.ping_id == 7,
                           got.obj.msg_id == client_msg_id,
                           got.obj.to_dict() == got_real.obj.to_dict()]

    # Pyrogram, client to server: pyrogram.crypto.mtproto.pack
    message = Message(Blob(body), client_msg_id, 3, len(body))
    before = dict(COUNTS)
    p_mtproto.urandom = fixed_random(k)
    ours = p_mtproto.pack(message, salt, session_bytes, raw, mkey.key_id_bytes)
    row["pyrogram_pack_calls"] = calls("ige_enc", before)
    p_mtproto.urandom, p_aes.tgcrypto = fixed_random(k), oracle_t
    theirs = p_mtproto.pack(message, salt, session_bytes, raw, mkey.key_id_bytes)
    p_mtproto.urandom, p_aes.tgcrypto = real_urandom, tgcrypto
    inner = InnerMessage.parse(decrypt_message(mkey, ours, from_server=False))
    row["pyrogram_pack_identical"] = ours == theirs
    row["pyrogram_pack_opens"] = [inner.salt == salt, inner.session_id == session,
                                  inner.msg_id == client_msg_id, inner.body == body]

    # Pyrogram, server to client: pyrogram.crypto.mtproto.unpack
    before = dict(COUNTS)
    got = p_mtproto.unpack(BytesIO(packet), session_bytes, raw, mkey.key_id_bytes)
    row["pyrogram_unpack_calls"] = calls("ige_dec", before)
    p_aes.tgcrypto = oracle_t
    got_real = p_mtproto.unpack(BytesIO(packet), session_bytes, raw, mkey.key_id_bytes)
    p_aes.tgcrypto = tgcrypto
    row["pyrogram_unpack"] = [got.msg_id == server_msg_id, got.body.ping_id == 7,
                              got.body.msg_id == client_msg_id,
                              got.body.write() == got_real.body.write()]
    messages.append(row)
OUT["messages"] = messages
print(json.dumps(OUT))
"""

# Real cryptg/tgcrypto installed and Telethon already imported (it took the real cryptg).
SCENARIO_WITH_REAL = """
from telethon.crypto import AES
from telethon.crypto import aes as t_aes
import tgcrypto as real_t
import mtcrypt.compat as compat
import mtcrypt.crypto.aes as core

real_c = t_aes.cryptg
OUT["telethon_took_real"] = real_c is not None and not compat.is_shim(real_c)


def state():
    c, t = importlib.import_module("cryptg"), importlib.import_module("tgcrypto")
    return {
        "cryptg": "real" if c is real_c else "shim" if compat.is_shim(c) else "?",
        "tgcrypto": "real" if t is real_t else "shim" if compat.is_shim(t) else "?",
        "telethon": "real" if t_aes.cryptg is real_c else
                    "shim" if compat.is_shim(t_aes.cryptg) else "?",
        "finders": finders(),
        "installed": compat.is_installed(),
    }


with warnings.catch_warnings(record=True) as record:
    warnings.simplefilter("always")
    OUT["keep"] = compat.install()
OUT["keep_warnings"] = caught(record)
OUT["keep_state"] = state()

with warnings.catch_warnings(record=True) as record:
    warnings.simplefilter("always")
    OUT["replace"] = compat.install(replace=True)
OUT["replace_warnings"] = caught(record)
OUT["replace_state"] = state()

count(core, "ige256_encrypt", "ige_enc")
data, key, iv = bytes(range(64)), bytes(range(32)), bytes(range(32, 64))
OUT["telethon_after_rebind"] = [
    AES.encrypt_ige(data, key, iv) == real_c.encrypt_ige(data, key, iv), COUNTS.get("ige_enc")
]

OUT["keep_again"] = compat.install()
OUT["keep_again_state"] = state()
compat.install(replace=True)
OUT["uninstall"] = compat.uninstall()
OUT["uninstall_again"] = compat.uninstall()
OUT["uninstalled_state"] = state()
print(json.dumps(OUT))
"""

# No cryptg/tgcrypto; Telethon and Pyrogram imported before install().
SCENARIO_LATE = """
hide_real()
from telethon.crypto import AES
from telethon.crypto import aes as t_aes
import pyrogram.crypto.aes as p_aes
import mtcrypt.compat as compat
import mtcrypt.crypto.aes as core

OUT["logs"] = LOGS
with warnings.catch_warnings(record=True) as record:
    warnings.simplefilter("always")
    OUT["install"] = compat.install()
OUT["warnings"] = caught(record)
OUT["telethon_rebound"] = compat.is_shim(t_aes.cryptg)
OUT["pyrogram_has_tgcrypto"] = hasattr(p_aes, "tgcrypto")

count(core, "ige256_encrypt", "ige_enc")
key, iv, data = bytes(range(32)), bytes(range(32, 64)), bytes(range(48))
OUT["telethon_enc"] = AES.encrypt_ige(data, key, iv).hex()
OUT["telethon_calls"] = COUNTS.get("ige_enc", 0)
OUT["pyrogram_enc"] = p_aes.ige256_encrypt(data, key, iv).hex()
OUT["calls_after_pyrogram"] = COUNTS.get("ige_enc", 0)
OUT["key"], OUT["iv"], OUT["data"] = key.hex(), iv.hex(), data.hex()
OUT["uninstall"] = compat.uninstall()
OUT["telethon_restored"] = t_aes.cryptg is None
print(json.dumps(OUT))
"""


def _start(body: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    code = PRELUDE + textwrap.dedent(body)
    return subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _finish(proc: subprocess.Popen[str], timeout: float = 120) -> dict[str, Any]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"subprocess failed:\n{err}"
    lines = out.strip().splitlines()
    assert lines, f"no output; stderr:\n{err}"
    result: dict[str, Any] = json.loads(lines[-1])
    result["_stderr"] = err
    return result


def _run(body: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    return _finish(_start(body, env))


class _Scenarios:
    """The heavy subprocesses, all started at once (they spend most of their time
    importing Telethon and Pyrogram)."""

    def __init__(self) -> None:
        self._procs = {
            "without_real": _start(SCENARIO_WITHOUT_REAL),
            "with_real": _start(SCENARIO_WITH_REAL),
            "late": _start(SCENARIO_LATE),
        }
        self._results: dict[str, dict[str, Any]] = {}

    def __getitem__(self, name: str) -> dict[str, Any]:
        if name not in self._results:
            self._results[name] = _finish(self._procs[name])
        return self._results[name]

    def close(self) -> None:
        for proc in self._procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


@pytest.fixture(scope="module")
def scenarios() -> Iterator[_Scenarios]:
    started = _Scenarios()
    yield started
    started.close()


# ---- install() before Telethon and Pyrogram, real packages absent ------------------------


def test_clients_detect_the_shims(scenarios: _Scenarios) -> None:
    r = scenarios["without_real"]
    assert r["real_visible"] == [False, False]  # the simulation hides the real packages
    assert r["install"] == {"cryptg": "mtcrypt", "tgcrypto": "mtcrypt"}
    assert r["install_again"] == r["install"]
    assert r["finders"] == [r["meta_path_len"] - 1]  # one finder, at the end
    assert r["core_loaded_by_install"] == []  # install() alone loads no crypto
    assert [
        "telethon.crypto.aes",
        "INFO",
        "cryptg detected, it will be used for encryption",
    ] in r["logs"]
    assert ["pyrogram.crypto.aes", "INFO", "Using TgCrypto"] in r["logs"]
    assert not [log for log in r["logs"] if "missing" in log[2] or "libssl" in log[2]]
    assert r["_stderr"] == ""


def real_tgcrypto_names() -> list[str]:
    return [n for n in dir(real_tgcrypto) if not n.startswith("_")]


def test_the_alias_modules(scenarios: _Scenarios) -> None:
    a = scenarios["without_real"]["alias"]
    assert a["telethon_uses_it"] and a["pyrogram_uses_it"]
    assert a["marked"] == [True, True]
    assert a["names"] == ["cryptg", "tgcrypto"]
    assert a["distinct"] == [True, True]
    assert a["same_functions"] == [True, True]
    assert a["all"] == [
        ["decrypt_ige", "encrypt_ige", "factorize_pq_pair"],
        sorted(real_tgcrypto_names()),
    ]
    assert a["shim_specs"] == ["mtcrypt.compat.cryptg", "mtcrypt.compat.tgcrypto"]
    assert "mtcrypt" in a["repr"] and a["file"].endswith(os.path.join("compat", "cryptg.py"))


def test_client_primitives_go_through_mtcrypt_and_match_the_real_packages(
    scenarios: _Scenarios,
) -> None:
    r = scenarios["without_real"]
    key, iv = bytes.fromhex(r["key"]), bytes.fromhex(r["iv"])
    for row in r["ige"]:
        data = bytes.fromhex(row["data"])
        assert bytes.fromhex(row["telethon_enc"]) == real_cryptg.encrypt_ige(data, key, iv)
        assert bytes.fromhex(row["telethon_dec"]) == real_cryptg.decrypt_ige(data, key, iv)
        assert bytes.fromhex(row["pyrogram_enc"]) == real_tgcrypto.ige256_encrypt(data, key, iv)
        assert bytes.fromhex(row["pyrogram_dec"]) == real_tgcrypto.ige256_decrypt(data, key, iv)
    counter, state = bytearray.fromhex(r["ctr_iv"]), bytearray(1)
    for i, (data, out, counter_after, state_after) in enumerate(r["ctr"]):
        fn = real_tgcrypto.ctr256_encrypt if i % 2 == 0 else real_tgcrypto.ctr256_decrypt
        assert bytes.fromhex(out) == fn(bytes.fromhex(data), key, counter, state)
        assert (bytes.fromhex(counter_after), state_after) == (bytes(counter), state[0])
    n = len(r["ige"])
    assert r["prim_calls"] == {"ige_enc": 2 * n, "ige_dec": 2 * n, "ctr_enc": 4, "ctr_dec": 3}


def test_client_messages_go_through_mtcrypt_and_match_the_real_packages(
    scenarios: _Scenarios,
) -> None:
    r = scenarios["without_real"]
    assert r["oracles"] == [False, False, True, True]
    assert [m["size"] for m in r["messages"]] == [256, 4096]
    for m in r["messages"]:
        # Telethon's MTProtoState: byte-identical to real cryptg; mtcrypt opens it.
        assert m["telethon_enc_calls"] == 1
        assert m["telethon_enc_identical"] is True
        assert m["telethon_enc_opens"] == [True] * 4
        # ... and it reads what mtcrypt.mtproto.encrypt_message sealed.
        assert m["telethon_dec_calls"] == 1
        assert m["telethon_dec"] == [True] * 4
        # Pyrogram's pack/unpack, likewise against real tgcrypto.
        assert m["pyrogram_pack_calls"] == 1
        assert m["pyrogram_pack_identical"] is True
        assert m["pyrogram_pack_opens"] == [True] * 4
        assert m["pyrogram_unpack_calls"] == 1
        assert m["pyrogram_unpack"] == [True] * 4


# ---- real packages installed ------------------------------------------------------------


def test_real_packages_kept_replaced_and_restored(scenarios: _Scenarios) -> None:
    r = scenarios["with_real"]
    assert r["telethon_took_real"]

    assert r["keep"] == {"cryptg": "kept real package", "tgcrypto": "kept real package"}
    assert r["keep_warnings"] == []  # Telethon already has what it would get now
    keep = r["keep_state"]
    assert (keep["cryptg"], keep["tgcrypto"], keep["telethon"]) == ("real", "real", "real")
    assert len(keep["finders"]) == 1 and keep["installed"]

    assert r["replace"] == {"cryptg": "mtcrypt", "tgcrypto": "mtcrypt"}
    replaced = r["replace_state"]
    assert (replaced["cryptg"], replaced["tgcrypto"]) == ("shim", "shim")
    assert replaced["finders"] == [0]  # one finder, now first
    # Telethon was imported first: rebound to the shim, with a warning saying so.
    assert replaced["telethon"] == "shim"
    [(category, is_runtime, message, filename)] = r["replace_warnings"]
    assert (category, is_runtime, filename) == ("ImportOrderWarning", True, "<string>")
    assert "before importing Telethon" in message and "rebound" in message
    assert r["telethon_after_rebind"] == [True, 1]

    assert r["keep_again"] == r["keep"]  # back to keeping: the real modules return
    again = r["keep_again_state"]
    assert (again["cryptg"], again["tgcrypto"], again["telethon"]) == ("real", "real", "real")

    assert r["uninstall"] is True and r["uninstall_again"] is False
    gone = r["uninstalled_state"]
    assert (gone["cryptg"], gone["tgcrypto"], gone["telethon"]) == ("real", "real", "real")
    assert gone["finders"] == [] and not gone["installed"]


# ---- install() after Telethon and Pyrogram ----------------------------------------------


def test_install_after_the_clients_warns(scenarios: _Scenarios) -> None:
    r = scenarios["late"]
    assert ["telethon.crypto.aes", "INFO", "libssl detected, it will be used for encryption"] in r[
        "logs"
    ] or any("cryptg module not installed" in log[2] for log in r["logs"])
    assert any("TgCrypto is missing" in log[2] for log in r["logs"])
    assert r["install"] == {"cryptg": "mtcrypt", "tgcrypto": "mtcrypt"}
    by_client = {w[2].split(".", 1)[0]: w for w in r["warnings"]}
    assert sorted(by_client) == ["pyrogram", "telethon"]
    for category, is_runtime, _, filename in r["warnings"]:
        assert (category, is_runtime, filename) == ("ImportOrderWarning", True, "<string>")
    assert "rebound" in by_client["telethon"][2]
    assert "before importing Pyrogram" in by_client["pyrogram"][2]

    # Telethon reads its `cryptg` global at each call: the rebinding takes effect.
    assert r["telethon_rebound"] is True
    key, iv, data = (bytes.fromhex(r[k]) for k in ("key", "iv", "data"))
    assert bytes.fromhex(r["telethon_enc"]) == real_cryptg.encrypt_ige(data, key, iv)
    assert r["telethon_calls"] == 1
    # Pyrogram chose its functions at import: still pure Python (same bytes, no mtcrypt).
    assert r["pyrogram_has_tgcrypto"] is False
    assert bytes.fromhex(r["pyrogram_enc"]) == real_tgcrypto.ige256_encrypt(data, key, iv)
    assert r["calls_after_pyrogram"] == 1
    assert r["uninstall"] is True and r["telethon_restored"] is True


# ---- arguments --------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [1, None, "yes"])
def test_replace_must_be_a_bool(bad: Any, tmp_path: Path) -> None:
    installed = compat.is_installed()
    with pytest.raises(InvalidType):
        compat.install(replace=bad)
    with pytest.raises(InvalidType):
        compat.enable_startup_hook(replace=bad, _directory=tmp_path)
    assert compat.is_installed() is installed  # nothing was changed
    assert list(tmp_path.iterdir()) == []


def test_import_is_cheap() -> None:
    r = _run(
        """
        import mtcrypt.compat
        mtcrypt.compat.install()
        OUT["loaded"] = sorted(m for m in sys.modules if m.startswith("mtcrypt"))
        print(json.dumps(OUT))
        """
    )
    assert "mtcrypt.compat._install" in r["loaded"]
    heavy = ("mtcrypt._native", "mtcrypt.crypto", "mtcrypt.compat.", "mtcrypt.mtproto")
    assert [m for m in r["loaded"] if m.startswith(heavy)] == ["mtcrypt.compat._install"]


# ---- the startup hook -------------------------------------------------------------------


def test_startup_hook_file(tmp_path: Path) -> None:
    hook = tmp_path / "mtcrypt_compat.pth"
    assert compat.startup_hook_path(_directory=tmp_path) == hook
    assert compat.startup_hook_path().name == "mtcrypt_compat.pth"
    status = compat.startup_hook_status(_directory=tmp_path)
    assert (status.enabled, status.replace) == (False, None)

    assert compat.enable_startup_hook(_directory=tmp_path) == hook
    code = [line for line in hook.read_text().splitlines() if not line.startswith("#")]
    assert len(code) == 1 and code[0].startswith("import ")  # what site.py executes
    assert "replace=False" in code[0]
    assert compat.startup_hook_status(_directory=tmp_path).replace is False

    assert compat.enable_startup_hook(replace=True, _directory=tmp_path) == hook  # overwrites
    status = compat.startup_hook_status(_directory=tmp_path)
    assert (status.path, status.enabled, status.replace) == (hook, True, True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mtcrypt_compat.pth"]

    assert compat.disable_startup_hook(_directory=tmp_path) == hook
    assert not hook.exists()
    assert compat.disable_startup_hook(_directory=tmp_path) is None


def test_startup_hook_errors_are_mtcrypt_errors(tmp_path: Path) -> None:
    with pytest.raises(StartupHookError, match="not a directory"):
        compat.enable_startup_hook(_directory=tmp_path / "missing")
    (tmp_path / "mtcrypt_compat.pth").mkdir()  # unwritable even as root
    with pytest.raises(StartupHookError, match="cannot write") as info:
        compat.enable_startup_hook(_directory=tmp_path)
    assert isinstance(info.value, MtcryptError) and isinstance(info.value, OSError)
    assert isinstance(info.value.__cause__, OSError)
    with pytest.raises(StartupHookError, match="cannot remove"):
        compat.disable_startup_hook(_directory=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mtcrypt_compat.pth"]  # no tmp left


def _hooked(
    directory: Path, before: str, after: str, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run ``before``, let site.py process ``directory``'s .pth files (as it does for
    site-packages at startup), then run ``after``; in a subprocess."""
    script = (
        textwrap.dedent(before)
        + f"import site\nsite.addsitedir({str(directory)!r})\n"
        + 'OUT["installed"] = "mtcrypt.compat" in sys.modules and '
        + 'sys.modules["mtcrypt.compat"].is_installed()\n'
        + 'OUT["core_loaded"] = "mtcrypt._native" in sys.modules\n'
        + textwrap.dedent(after)
        + "print(json.dumps(OUT))\n"
    )
    return _run(script, env)


def test_startup_hook_activates_the_shims(tmp_path: Path) -> None:
    keep, replace = tmp_path / "keep", tmp_path / "replace"
    keep.mkdir()
    replace.mkdir()
    compat.enable_startup_hook(_directory=keep)
    compat.enable_startup_hook(replace=True, _directory=replace)

    # Without the real packages: `import cryptg` / `import tgcrypto` give the shims.
    r = _hooked(
        keep,
        "hide_real()\n",
        """
        import cryptg, tgcrypto
        import mtcrypt.compat
        OUT["shims"] = [mtcrypt.compat.is_shim(cryptg), mtcrypt.compat.is_shim(tgcrypto)]
        OUT["encrypt"] = cryptg.encrypt_ige(bytes(32), bytes(32), bytes(32)).hex()
        """,
    )
    assert r["installed"] is True and r["core_loaded"] is False  # cheap until imported
    assert r["shims"] == [True, True]
    assert bytes.fromhex(r["encrypt"]) == real_cryptg.encrypt_ige(bytes(32), bytes(32), bytes(32))
    assert r["_stderr"] == ""

    # With them, replace=False keeps them.
    r = _hooked(
        keep,
        "",
        """
        import cryptg, mtcrypt.compat
        OUT["shim"] = mtcrypt.compat.is_shim(cryptg)
        """,
    )
    assert (r["installed"], r["shim"]) == (True, False)

    # replace=True: Telethon finds (and logs) "cryptg", which is mtcrypt's.
    r = _hooked(
        replace,
        "",
        """
        from telethon.crypto import aes as t_aes
        import tgcrypto, mtcrypt.compat
        OUT["telethon"] = mtcrypt.compat.is_shim(t_aes.cryptg)
        OUT["tgcrypto"] = mtcrypt.compat.is_shim(tgcrypto)
        OUT["logs"] = LOGS
        """,
    )
    assert (r["installed"], r["telethon"], r["tgcrypto"]) == (True, True, True)
    assert ["telethon.crypto.aes", "INFO", "cryptg detected, it will be used for encryption"] in r[
        "logs"
    ]

    # MTCRYPT_COMPAT=0 switches the hook off.
    r = _hooked(
        keep,
        "hide_real()\n",
        'OUT["found"] = importlib.util.find_spec("cryptg") is not None\n',
        env={**os.environ, "MTCRYPT_COMPAT": "0"},
    )
    assert (r["installed"], r["found"]) == (False, False)


FORGET_MTCRYPT = """
for name in [m for m in sys.modules if m == "mtcrypt" or m.startswith("mtcrypt.")]:
    del sys.modules[name]
"""


def test_a_broken_or_missing_mtcrypt_does_not_break_startup(tmp_path: Path) -> None:
    compat.enable_startup_hook(_directory=tmp_path)
    broken = """
        class Broken:
            @staticmethod
            def find_spec(name, path=None, target=None):
                if name == "mtcrypt.compat":
                    raise RuntimeError("simulated broken mtcrypt")
                return None
        sys.meta_path.insert(0, Broken)
        """
    r = _hooked(tmp_path, FORGET_MTCRYPT + textwrap.dedent(broken), 'OUT["alive"] = True\n')
    assert (r["alive"], r["installed"]) == (True, False)
    assert r["_stderr"] == (
        "mtcrypt compat startup hook skipped: RuntimeError('simulated broken mtcrypt')\n"
    )

    missing = """
        class Missing:
            @staticmethod
            def find_spec(name, path=None, target=None):
                if name.partition(".")[0] == "mtcrypt":
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
                return None
        sys.meta_path.insert(0, Missing)
        """
    r = _hooked(tmp_path, FORGET_MTCRYPT + textwrap.dedent(missing), 'OUT["alive"] = True\n')
    assert (r["alive"], r["installed"]) == (True, False)
    assert r["_stderr"] == ""  # mtcrypt uninstalled, hook left behind: silent
