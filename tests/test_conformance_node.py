"""The conformance runner against the Node.js example client (a command target).

``docs/examples/conformance-client.mjs`` is a complete MTProto 2.0 client in
plain Node.js that follows the command-adapter contract; the conformance guide
shows it to people testing clients in other languages.  It must be a correct
client for everything it declares: the default test plays the controls (the
honest handshake and session, every route) and one scenario of each rule
family it checks (about 7 s); the whole client catalog is marked ``slow`` and
runs with ``MTCRYPT_CONFORMANCE_FULL=1``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import IN_CI

from mtcrypt.handshake.rsa import RsaPrivateKey
from mtcrypt.testing.conformance import CommandAdapter, default_scenarios, run_client_suite_sync

pytestmark = pytest.mark.interop

CLIENT = Path(__file__).resolve().parent.parent / "docs" / "examples" / "conformance-client.mjs"
FEATURES = ("full", "obfuscated", "header_rng", "mtproxy", "fake_tls", "temp_keys", "reconnect")
MIN_NODE = 20

# One scenario of each rule family (the whole catalog runs with
# MTCRYPT_CONFORMANCE_FULL=1, where the client passes every scenario).
FAMILIES = {
    "H2-answer-hash",
    "H3-g_a-below",
    "H4-ok-bad-hash",
    "H6-temp-key",
    "H6-temp-key-lost",
    "C1-msg-key-flip",
    "C3-padding-over-1024",
    "C7-duplicate",
    "T1-header-HEAD",
    "T2-oversized",
    "T3-fake-tls-bad-hmac",
}


def _node() -> str:
    """The ``node`` executable (Node.js 20 or newer); skipped where it is missing,
    except under ``CI=true``, where a missing Node.js is a broken setup."""
    node = shutil.which("node")
    version = ""
    if node is not None:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
        version = out.stdout.strip()
        match = re.match(r"v(\d+)\.", version)
        if match and int(match.group(1)) >= MIN_NODE:
            return node
    reason = f"Node.js {MIN_NODE}+ is needed " + (f"(found {version})" if node else "(no node)")
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


def _adapter() -> CommandAdapter:
    return CommandAdapter([_node(), str(CLIENT)], features=FEATURES)


def _control(scenario_id: str) -> bool:
    return scenario_id in ("H-honest", "C-honest") or scenario_id.startswith("route-")


def test_node_client_passes_controls_and_families(server_key: RsaPrivateKey) -> None:
    adapter = _adapter()
    chosen = [s for s in default_scenarios("client") if _control(s.id) or s.id in FAMILIES]
    assert FAMILIES <= {s.id for s in chosen}
    report = run_client_suite_sync(adapter, chosen, rsa_key=server_key, timeout=3.0)
    assert {r.id: r.status for r in report.results} == {s.id: "pass" for s in chosen}, (
        report.to_table()
    )
    assert report.passed, report.to_table()


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("MTCRYPT_CONFORMANCE_FULL") != "1", reason="set MTCRYPT_CONFORMANCE_FULL=1"
)
def test_node_client_full_catalog(server_key: RsaPrivateKey) -> None:
    report = run_client_suite_sync(
        _adapter(), default_scenarios("client"), rsa_key=server_key, timeout=3.0
    )
    print(report.to_table())
    assert not [r for r in report.results if r.status == "error"], report.to_table()
    assert not [r for r in report.results if r.status == "skip"], report.to_table()
