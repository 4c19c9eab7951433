"""The conformance runner: scenarios as data, the adversarial server against
mtcrypt's own client (the control: every scenario passes), mirror mode against
mtcrypt's own server, the command adapter, the report and the command line."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import json
import sys
import time
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from mtcrypt import tl
from mtcrypt.__main__ import main as mtcrypt_main
from mtcrypt.connection import ClientConnection
from mtcrypt.errors import InvalidArgument
from mtcrypt.handshake import ClientHandshake, HandshakeResult, ServerHandshake
from mtcrypt.handshake.rsa import RsaPrivateKey
from mtcrypt.mtproto import InnerMessage, decrypt_message, encrypt_message, next_msg_id
from mtcrypt.testing import ReferenceServer, mutators
from mtcrypt.testing.conformance import (
    MUTATIONS,
    CommandAdapter,
    MessagePlan,
    MtcryptAdapter,
    Probe,
    Report,
    Scenario,
    ServerContext,
    ServerEndpoint,
    default_scenarios,
    load_scenarios,
    register_mutation,
    run_client_suite_sync,
    run_server_suite,
)
from mtcrypt.testing.conformance._shared import read_prefix
from mtcrypt.testing.conformance.adversary import Out
from mtcrypt.testing.conformance.cli import main as conformance_main
from mtcrypt.transport import ClientTransport, Frame, ServerTransport

SECRET = "ee" + "61" * 16 + b"conformance.test".hex()


# ---- scenarios as data ----------------------------------------------------------------


def test_default_scenarios_are_valid_data() -> None:
    scenarios = default_scenarios()
    ids = [s.id for s in scenarios]
    assert len(ids) == len(set(ids))
    assert {s.role for s in scenarios} == {"client", "server"}
    for s in scenarios:
        s.plan()  # every parameter set builds
        assert Scenario.from_dict(s.to_dict()) == s
        assert s.checklist and s.description
    used = {s.mutation for s in scenarios}
    builtin = {"client_mutations", "mirror"}
    assert used >= {
        k for k, v in MUTATIONS.items() if v.build.__module__.rsplit(".", 1)[-1] in builtin
    }


def test_scenario_validation() -> None:
    with pytest.raises(InvalidArgument):
        Scenario("x", "d", "no_such_mutation", "reject", "C3")
    with pytest.raises(InvalidArgument):
        Scenario("x", "d", "truncate", "maybe", "C1")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        Scenario.from_dict(
            {
                "id": "x",
                "description": "d",
                "mutation": "truncate",
                "expect": "reject",
                "checklist": "C1",
                "colour": "red",
            }
        )
    with pytest.raises(InvalidArgument):
        Scenario("x", "d", "truncate", "reject", "C1", params={"bogus": 1}).plan()


def test_scenarios_load_from_json_and_toml(tmp_path: Path) -> None:
    toml = tmp_path / "extra.toml"
    toml.write_text(
        "[[scenario]]\n"
        'id = "C3-padding-2048"\n'
        'description = "authentic answer with 2048 bytes of padding"\n'
        'mutation = "padding_length"\n'
        "params = { padding = 2048 }\n"
        'expect = "reject"\n'
        'checklist = "C3"\n'
    )
    data = [
        {
            "id": "C1-flip-7",
            "description": "msg_key bit 7",
            "mutation": "flip_msg_key",
            "params": {"bit": 7},
            "expect": "reject",
            "checklist": "C1",
        }
    ]
    js = tmp_path / "extra.json"
    js.write_text(json.dumps({"scenarios": data}))
    loaded = load_scenarios(toml) + load_scenarios(js)
    assert [s.id for s in loaded] == ["C3-padding-2048", "C1-flip-7"]
    assert dict(loaded[0].params) == {"padding": 2048}


# ---- the control: mtcrypt's own client passes everything ------------------------------------


def test_mtcrypt_client_passes_every_scenario(server_key: RsaPrivateKey) -> None:
    report = run_client_suite_sync(
        MtcryptAdapter(), default_scenarios("client"), rsa_key=server_key, timeout=2.0
    )
    assert report.passed, report.to_table()
    assert {r.status for r in report.results} == {"pass"}
    assert len(report.results) == len(default_scenarios("client"))
    assert all(p.uniform for p in report.pairs) and len(report.pairs) == 2


class _Padding2048(MessagePlan):
    def mutate(self, ctx: ServerContext, probe: Probe) -> Out:
        return ctx.seal(ctx.answer(probe), padding=2044)  # 32 + 20 + 2044 = 131 * 16


def test_user_defined_mutation_kind(server_key: RsaPrivateKey) -> None:
    """Extending from Python: register a kind, describe scenarios with it."""

    @register_mutation("test_padding_2048", role="client", phase="message")
    def build() -> MessagePlan:
        """Authentic answer with about 2 KiB of padding (C3)."""
        return _Padding2048()

    try:
        scenarios = [
            Scenario("C3-user-2k", "user-defined", "test_padding_2048", "reject", "C3"),
            Scenario("C-user-control", "honest", "message_honest", "accept", "C"),
        ]
        report = run_client_suite_sync(MtcryptAdapter(), scenarios, rsa_key=server_key)
        assert [r.status for r in report.results] == ["pass", "pass"]
        assert MUTATIONS["test_padding_2048"].doc.startswith("Authentic answer")
        with pytest.raises(InvalidArgument):
            register_mutation("test_padding_2048", role="client", phase="message")(build)
    finally:
        MUTATIONS.pop("test_padding_2048", None)


# ---- mirror mode -------------------------------------------------------------------------------


def _mirror(
    key: RsaPrivateKey, enforce_salt: bool, scenarios: list[Scenario], **options: Any
) -> Report:
    async def run() -> Report:
        options.setdefault("dc_id", 2)
        options.setdefault("rsa_key", key)
        server = ReferenceServer(enforce_salt=enforce_salt, secrets=[SECRET], **options)
        async with server:
            endpoint = ServerEndpoint("127.0.0.1", server.port, server.public_key, secret=SECRET)
            return await run_server_suite(endpoint, scenarios, target="mtcrypt-server")

    return asyncio.run(run())


def test_mtcrypt_server_passes_every_mirror_scenario(server_key: RsaPrivateKey) -> None:
    report = _mirror(server_key, True, default_scenarios("server"))
    assert report.passed, report.to_table()
    assert len(report.results) == len(default_scenarios("server"))


def test_header_scenarios_see_a_server_that_answers(server_key: RsaPrivateKey) -> None:
    """The raw-header judge: a header with a tag the server knows (intermediate) and no
    secret is answered, which the same scenario kind reports as accepted."""
    known = Scenario("T1-x", "x", "srv_obfuscation_header", "reject", "T1", {"tag": "eeeeeeee"})
    result = _mirror(server_key, True, [known]).result("T1-x")
    assert (result.observed, result.status) == ("accepted", "FAIL"), result


def test_an_unbound_temporary_key_serves_no_api_query(server_key: RsaPrivateKey) -> None:
    """Even with a handler that answers every query, the server refuses an API
    query under an unbound temporary key itself (AUTH_KEY_PERM_EMPTY)."""
    from mtcrypt.testing.reference import echo_handler

    chosen = [s for s in default_scenarios("server") if s.id == "srv-H6-unbound-query"]
    result = _mirror(server_key, True, chosen, handler=echo_handler).result("srv-H6-unbound-query")
    assert (result.observed, result.status) == ("rejected", "pass"), result
    assert "AUTH_KEY_PERM_EMPTY" in result.detail


def test_a_server_that_knows_its_dc_refuses_another_with_444(server_key: RsaPrivateKey) -> None:
    chosen = [s for s in default_scenarios("server") if s.id == "srv-D4.2-error-444-test-dc"]
    assert _mirror(server_key, True, chosen).passed
    # Told no DC, the server takes any: the scenario sees no -444.
    result = _mirror(server_key, True, chosen, dc_id=None).result("srv-D4.2-error-444-test-dc")
    assert (result.observed, result.status) == ("rejected", "FAIL"), result


def test_mirror_sees_a_server_that_accepts(server_key: RsaPrivateKey) -> None:
    """Negative control: a reference server that does not enforce salts
    answers a request with a made-up salt, and the report says so."""
    chosen = [
        s for s in default_scenarios("server") if s.id in ("srv-C9-wrong-salt", "srv-C-honest")
    ]
    report = _mirror(server_key, False, chosen)
    assert report.result("srv-C-honest").status == "pass"
    wrong = report.result("srv-C9-wrong-salt")
    assert (wrong.observed, wrong.status) == ("accepted", "FAIL")
    assert not report.passed


def _loose_pings(body: bytes) -> list[int]:
    """The ping_ids in a body, read as a careless server would: containers and
    gzip_packed unwrapped with no checks or limits, each inner message read from
    where it starts whatever its ``bytes`` field says."""
    schema = tl.default_schema()
    constructor = int.from_bytes(body[:4], "little")
    if constructor == schema["ping"].id and len(body) >= 12:
        return [int.from_bytes(body[4:12], "little", signed=True)]
    if constructor == schema["gzip_packed"].id:
        found = read_prefix(body)
        return _loose_pings(gzip.decompress(found[0].packed_data)) if found else []
    found: list[int] = []
    if constructor == schema["msg_container"].id:
        pos = 8
        for _ in range(int.from_bytes(body[4:8], "little")):
            length = int.from_bytes(body[pos + 12 : pos + 16], "little", signed=True)
            found += _loose_pings(body[pos + 16 :])
            pos += 16 + length
    return found


async def _sloppy_server(key: RsaPrivateKey, keys: dict[bytes, HandshakeResult]) -> asyncio.Server:
    """A server with the real transport and handshake that then answers every
    ping in any packet that decrypts: no msg_id, salt or container checks."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        transport, handshake, last = ServerTransport(), ServerHandshake(key), 0
        while data := await reader.read(65536):
            for frame in transport.receive(data):
                if not isinstance(frame, Frame):
                    continue
                if frame.payload[:8] == bytes(8):
                    writer.write(transport.send(handshake.receive(frame.payload)))
                    if handshake.done:
                        keys[handshake.result.auth_key.key_id_bytes] = handshake.result
                    continue
                result = keys[frame.payload[:8]]
                plain = decrypt_message(result.auth_key, frame.payload, from_server=False)
                message = InnerMessage.parse(plain)
                for ping_id in _loose_pings(message.body):
                    last = next_msg_id(time.time(), last, 1)
                    pong = tl.make("pong", msg_id=message.msg_id, ping_id=ping_id)
                    answer = InnerMessage(
                        result.server_salt, message.session_id, last, 1, tl.serialize(pong)
                    )
                    sealed = encrypt_message(result.auth_key, answer.pack(), from_server=True)
                    writer.write(transport.send(sealed))
        writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0)


def test_mirror_sees_a_server_that_skips_the_session_checks(server_key: RsaPrivateKey) -> None:
    """Negative control: the pong to a request whose msg_id, salt or container
    is wrong reaches the mirror even when its session could not match it."""
    wanted = {f"srv-{n}" for n in ("C-honest", "C7-msg-id-odd", "C7-duplicate", "C7-too-old")}
    wanted |= {"srv-C7-too-new", "srv-C8-container-inner-id", "srv-C9-wrong-salt"}
    wanted |= {f"srv-C8-container-{k.replace('_', '-')}" for k in mutators.CONTAINER_ATTACKS}
    wanted.add("srv-C7-below-window")
    numbering = {"srv-S2-server-msg-ids", "srv-S3-server-seq-no"}
    codes = {f"srv-D8.1-code-{c}" for c in (16, 17, 18, 34, 64)}
    chosen = [s for s in default_scenarios("server") if s.id in wanted | numbering | codes]

    async def run() -> Report:
        server = await _sloppy_server(server_key, {})
        async with server:
            port = int(server.sockets[0].getsockname()[1])
            endpoint = ServerEndpoint("127.0.0.1", port, server_key.public_key)
            return await run_server_suite(endpoint, chosen, timeout=1.0)

    report = asyncio.run(run())
    assert report.result("srv-C-honest").status == "pass", report.to_table()
    findings = {r.id for r in report.results if (r.observed, r.status) == ("accepted", "FAIL")}
    assert findings == wanted - {"srv-C-honest"}, report.to_table()
    # It numbers every pong seq_no 1: the seq_no judge sees it, the msg_id one has no complaint.
    assert report.result("srv-S2-server-msg-ids").status == "pass", report.to_table()
    seq_no = report.result("srv-S3-server-seq-no")
    assert (seq_no.observed, seq_no.status) == ("rejected", "FAIL"), report.to_table()
    # It reports nothing: no bad_msg_notification code is seen.
    for code in codes:
        assert report.result(code).status == "FAIL", report.to_table()


# ---- a client in another process -----------------------------------------------------------------


def test_command_adapter_with_the_example_client(server_key: RsaPrivateKey) -> None:
    # Every capability the in-process adapters have, through the environment:
    # a forced header candidate, MTProxy plain/dd/ee, a bound temporary key.
    # (one program start per scenario: the ones that need each variable)
    wanted = {
        "H2-answer-hash",
        "T1-header-HEAD",
        "route-mtproxy-dd",
        "route-mtproxy-ee",
        "H6-temp-key",
        "H6-temp-key-lost",
    }
    chosen = [s for s in default_scenarios("client") if s.id in wanted]
    features = ["full", "obfuscated", "header_rng", "mtproxy", "fake_tls", "temp_keys", "reconnect"]
    adapter = CommandAdapter(
        [sys.executable, "-m", "mtcrypt.testing.conformance.example_client"], features=features
    )
    report = run_client_suite_sync(adapter, chosen, rsa_key=server_key, timeout=3.0)
    assert report.passed, report.to_table()
    assert {r.id for r in report.results} == wanted
    assert {r.status for r in report.results} == {"pass"}


def test_command_adapter_environment_and_events(server_key: RsaPrivateKey) -> None:
    from mtcrypt.testing.conformance import ClientReport, Endpoint
    from mtcrypt.testing.conformance.adapters import ENV_PREFIX, _read_event

    key = server_key.public_key
    adapter = CommandAdapter(["client"])
    plain = adapter.environment(Endpoint("h", 1, key), "session", 3.0)
    assert ENV_PREFIX + "HEADER_CANDIDATE" not in plain
    assert ENV_PREFIX + "TEMP_KEY_EXPIRES_IN" not in plain
    endpoint = Endpoint(
        "h", 1, key, secret="dd" + "00" * 16, header_candidate=b"\x01" * 64, temp_key_expires_in=60
    )
    env = adapter.environment(endpoint, "session", 3.0)
    assert env[ENV_PREFIX + "FRAMING"] == "padded_intermediate"  # what a dd secret means
    assert env[ENV_PREFIX + "HEADER_CANDIDATE"] == "01" * 64
    assert env[ENV_PREFIX + "TEMP_KEY_EXPIRES_IN"] == "60"
    report = ClientReport()
    for line in (
        '{"event": "handshake", "ok": true}',
        '{"event": "pong", "ping_id": 1}',
        "PONG 3",
        '{"event": "timeout", "ping_id": 4}',
        "ERROR boom",
        "{not json",
        '{"event": "error", "error": "bad msg_key"}',
    ):
        _read_event(line, report)
    assert report.handshake is True and report.pongs == {1: True, 3: True}
    assert report.errors == ["TimeoutError: ping 4 got no answer", "boom", "bad msg_key"]


def test_a_client_that_ignores_temp_keys_fails_the_pfs_scenario(server_key: RsaPrivateKey) -> None:
    class NoPfs(MtcryptAdapter):
        async def _connect(self, endpoint: Any, auth_key: bytes | None) -> Any:
            plain = dataclasses.replace(endpoint, temp_key_expires_in=None)
            return await super()._connect(plain, auth_key)

    chosen = [s for s in default_scenarios("client") if s.id == "H6-temp-key"]
    report = run_client_suite_sync(NoPfs(), chosen, rsa_key=server_key)
    (result,) = report.results
    assert result.status == "FAIL" and "permanent key" in result.detail


class _FixedNonce(ClientHandshake):
    """A broken client: every handshake it starts uses the same nonce."""

    def start_with(self, rng: Any, now: float) -> bytes:
        return super().start_with(lambda n: b"\x07" * n if n == 16 else rng(n), now)


class _NonceReuse(MtcryptAdapter):
    async def _connect(self, endpoint: Any, auth_key: bytes | None) -> Any:
        with mock.patch("mtcrypt.connection.client.ClientHandshake", _FixedNonce):
            return await super()._connect(endpoint, auth_key)


class _GivesUp(MtcryptAdapter):
    async def _connect(self, endpoint: Any, auth_key: bytes | None) -> Any:
        return await super()._connect(dataclasses.replace(endpoint, reconnect=False), auth_key)


class _PermFallback(MtcryptAdapter):
    """A broken client: after a lost temporary key it goes on under the permanent one."""

    async def run(self, endpoint: Any, mode: Any, auth_key: bytes | None, timeout: float) -> Any:
        def fallback(conn: ClientConnection, transport: ClientTransport) -> ClientConnection:
            return ClientConnection(
                transport, public_keys=[endpoint.public_key], auth_key=conn.perm_key
            )

        with mock.patch.object(ClientConnection, "restarted", fallback):
            return await super().run(endpoint, mode, auth_key, timeout)


@pytest.mark.parametrize(
    ("adapter", "expected"),
    [
        (_NonceReuse(), {"H-404-restart": "nonce it had used", "H-404-restart-dh": "nonce it"}),
        (
            _GivesUp(),
            {
                "H-404-restart": "did not start again",
                "H-404-restart-dh": "did not start again",
                "H6-temp-key-lost": "gave up",
            },
        ),
        (_PermFallback(), {"H6-temp-key-lost": "fell back to the permanent key"}),
    ],
    ids=["nonce-reuse", "gives-up", "perm-fallback"],
)
def test_reconnect_scenarios_tell_a_broken_client(
    server_key: RsaPrivateKey, adapter: MtcryptAdapter, expected: dict[str, str]
) -> None:
    """The scenarios that let the client reconnect (mtcrypt's own client passes
    them with the rest of the catalog): each broken variant fails the one it breaks."""
    chosen = [s for s in default_scenarios("client") if s.id in expected]
    report = run_client_suite_sync(adapter, chosen, rsa_key=server_key, timeout=2.0)
    assert {r.id for r in report.results} == set(expected)
    for result in report.results:
        assert result.status == "FAIL", report.to_table()
        assert expected[result.id] in result.detail, report.to_table()


def test_route_fields_are_data() -> None:
    scenario = Scenario("x", "d", "message_honest", "accept", "T1", proxy="dd", temp_key=True)
    again = Scenario.from_dict(scenario.to_dict())
    assert (again.proxy, again.temp_key) == ("dd", True)
    with pytest.raises(InvalidArgument):
        Scenario("x", "d", "message_honest", "accept", "T1", proxy="socks")


# ---- report and command line ---------------------------------------------------------


def test_report_table_and_json(server_key: RsaPrivateKey, tmp_path: Path) -> None:
    chosen = [s for s in default_scenarios("client") if s.id.startswith(("C5-", "T1-header-H"))]
    report = run_client_suite_sync(MtcryptAdapter(), chosen, rsa_key=server_key)
    table = report.to_table()
    assert "C5-forged-mac" in table and "C4 uniform failure" in table
    data = json.loads(report.to_json(tmp_path / "r.json"))
    assert data["passed"] is True and data["counts"] == {"pass": len(chosen)}
    assert json.loads((tmp_path / "r.json").read_text())["target"] == "mtcrypt"
    assert {r["id"] for r in data["results"]} == {s.id for s in chosen}


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.json"
    status = mtcrypt_main(
        [
            "conformance",
            "--target",
            "mtcrypt",
            "--only",
            "C3-*,C7-dup*",
            "--quiet",
            "--json",
            str(out),
        ]
    )
    assert status == 0
    printed = capsys.readouterr().out
    assert "C3-length-beyond" in printed and "C7-duplicate" in printed
    assert json.loads(out.read_text())["counts"] == {"pass": 7}
    assert conformance_main(["--list", "--only", "srv-*"]) == 0
    assert "srv-C3-padding-over-1024" in capsys.readouterr().out
    assert conformance_main(["--target", "mtcrypt-server", "--only", "srv-C1-*", "--quiet"]) == 0
    assert conformance_main(["--target", "mtcrypt", "--only", "nothing"]) == 2
    extra = tmp_path / "x.json"
    extra.write_text(
        json.dumps(
            [
                {
                    "id": "C-mine",
                    "description": "mine",
                    "mutation": "message_honest",
                    "expect": "accept",
                    "checklist": "C",
                }
            ]
        )
    )
    assert (
        conformance_main(
            ["--target", "mtcrypt", "--no-defaults", "--scenarios", str(extra), "--quiet"]
        )
        == 0
    )


# ---- judging a client whose receive path broke ------------------------------------------------


@pytest.mark.parametrize(
    ("pongs", "errors", "observed"),
    [
        # the sentinel arrived: the mutated packet was dropped
        ({1: True, 2: False, 3: True, 4: True}, [], "rejected"),
        # closed the connection and said so at once (mtcrypt, tdlib)
        ({1: True, 2: False, 3: False, 4: False}, ["SessionError: closed"], "rejected"),
        # the requests hang: a receive loop that died (Telethon + cryptg's panic)
        ({1: True, 2: False, 3: False, 4: False}, ["TimeoutError", "on close: Panic"], "broken"),
        ({1: True, 2: True, 3: False, 4: False}, ["TimeoutError"], "accepted"),
    ],
)
def test_a_client_that_stops_answering_is_a_finding(
    pongs: dict[int, bool], errors: list[str], observed: str
) -> None:
    from mtcrypt.testing.conformance import ClientReport, Evidence
    from mtcrypt.testing.conformance.runner import judge_client, scenario_status

    scenario = Scenario("C-x", "x", "message_honest", "reject", "C")
    report = ClientReport(handshake=True, pongs=pongs, errors=errors)
    got, detail = judge_client(scenario, MessagePlan(), Evidence(played=True), report, None)
    assert got == observed, detail
    if got == "broken":
        assert scenario_status("reject", got) == scenario_status("accept", got) == "FAIL"
        assert "stopped answering" in detail and "Panic" in detail


def test_a_plan_that_cannot_be_played_is_an_error_not_a_pass() -> None:
    from mtcrypt.testing.conformance import ClientReport, Evidence
    from mtcrypt.testing.conformance.runner import judge_client

    scenario = Scenario("C-x", "x", "message_honest", "reject", "C")
    evidence = Evidence(played=True, notes=["plan: padding 2056 does not align"])
    report = ClientReport(handshake=True, pongs={1: True, 2: False, 3: False, 4: True})
    assert judge_client(scenario, MessagePlan(), evidence, report, None)[0] == "error"


def test_deprecated_only_warns_on_acceptance() -> None:
    from mtcrypt.testing.conformance.runner import scenario_status

    assert scenario_status("deprecated", "accepted") == "WARN"
    assert scenario_status("deprecated", "rejected") == "pass"
    assert scenario_status("deprecated", "late") == "late"
    assert scenario_status("deprecated", "wrong-key") == "FAIL"


def test_a_client_that_never_connects_is_an_error(server_key: RsaPrivateKey) -> None:
    adapter = CommandAdapter([sys.executable, "-c", "raise SystemExit(3)"])
    chosen = [s for s in default_scenarios("client") if s.id in ("H2-resPQ-nonce", "H-honest")]
    report = run_client_suite_sync(adapter, chosen, rsa_key=server_key, timeout=2.0)
    assert {r.status for r in report.results} == {"error"}, report.to_table()
    from mtcrypt.testing.conformance import make_adapter

    with pytest.raises(ValueError, match="cannot find"):
        make_adapter("command:/nonexistent/client")


def test_junit_counts_pairs_and_survives_control_characters() -> None:
    import xml.etree.ElementTree as ET

    from mtcrypt.testing.conformance import PairResult, Report, ScenarioResult

    result = ScenarioResult("C1-x", "C1", "d", "reject", "rejected", "pass", "ERROR \x1b[31mred")
    report = Report("t", "client", [result], [PairResult("a", "b", False, "texts differ")])
    suite = ET.fromstring(report.to_junit())
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    assert suite.find("testcase/failure").get("type") == "C4"


def test_client_msg_ids_must_increase() -> None:
    from mtcrypt.testing.conformance import ClientReport, Evidence
    from mtcrypt.testing.conformance.numbering import Sent
    from mtcrypt.testing.conformance.runner import judge_client

    scenario = Scenario("S2-x", "x", "client_msg_ids", "accept", "S2")
    plan = scenario.plan()
    report = ClientReport(handshake=True, pongs={1: True, 2: True, 3: True, 4: True})
    def sent(ids: list[int]) -> dict[int, list[Sent]]:
        return {7: [Sent(i, 1, "ping", 0.0) for i in ids]}

    good = Evidence(played=True, client_sent=sent([8, 12, 16]))
    assert judge_client(scenario, plan, good, report, None)[0] == "accepted"
    for ids in ([8, 12, 12], [8, 4], [8, 13]):
        bad = Evidence(played=True, client_sent=sent(ids))
        assert judge_client(scenario, plan, bad, report, None)[0] == "rejected", ids


def test_a_client_that_retries_after_a_bad_retry_is_late() -> None:
    from mtcrypt.testing.conformance import ClientReport, Evidence
    from mtcrypt.testing.conformance.runner import judge_client

    params = {"answer": "retry", "field": "nonce"}
    scenario = Scenario("H4-x", "x", "dh_gen", "reject", "H4", params)
    report = ClientReport(handshake=False, error="gave up")
    steps = ["req_pq_multi", "req_DH_params", "set_client_DH_params"]
    refused = Evidence(connections=1, handshake_steps=steps)
    assert judge_client(scenario, scenario.plan(), refused, report, None)[0] == "rejected"
    retried = Evidence(connections=1, handshake_steps=[*steps, steps[-1]], retries=1)
    assert judge_client(scenario, scenario.plan(), retried, report, None)[0] == "late"
