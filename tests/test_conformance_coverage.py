"""The conformance coverage map (mtcrypt/testing/conformance/coverage.toml): it names only
scenarios that exist, gives every rule scenarios or a reason, has a rule for every
checklist item, and docs/protocol/coverage.md is generated from it."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from mtcrypt.testing.conformance.coverage import (
    CHECKLIST_ITEMS,
    Rule,
    Side,
    check,
    load_rules,
    main,
    render_markdown,
    scenario_ids,
    unmapped_scenarios,
)

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "protocol" / "coverage.md"
# The project's protocol digest, next to the repository (not part of it: absent in CI).
DIGEST = ROOT.parent / "shared" / "docs" / "mtproto2-digest.md"

_TINY: dict[Side, list[str]] = {
    "client": ["C1-a", "C1-b"],
    "server": ["srv-C1-a"],
    "secret": ["e2e-x", "e2e-x/partner"],
}


def _rule(**changes: object) -> Rule:
    base = Rule(id="R", source="checklist C1", level="checklist", text="t", client=("C1-a",))
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_the_page_is_generated_from_the_map() -> None:
    expected = render_markdown(load_rules())
    assert PAGE.read_text(encoding="utf-8") == expected, (
        "docs/protocol/coverage.md is stale: run "
        "python -m mtcrypt.testing.conformance.coverage --write docs/protocol/coverage.md"
    )


def test_the_map_has_no_problems() -> None:
    assert check(load_rules()) == []


def test_every_checklist_item_has_a_rule() -> None:
    rules = load_rules()
    covered = {item for rule in rules for item in rule.checklist_items}
    assert set(CHECKLIST_ITEMS) <= covered
    assert len(CHECKLIST_ITEMS) == 9 + 4 + 6 + 4 + 3 + 1
    for rule in rules:
        if rule.level == "checklist":
            assert rule.checklist_items, rule.id


def test_a_wrong_pattern_is_reported() -> None:
    rules = load_rules()
    last = rules[-1]
    broken = [*rules[:-1], dataclasses.replace(last, secret=(*last.secret, "e2e-no-such-*"))]
    assert check(broken) == [f"{last.id}: secret pattern 'e2e-no-such-*' names no secret scenario"]


def test_a_pattern_must_name_a_scenario_of_its_own_role() -> None:
    rule = _rule(client=("srv-C1-a",))
    assert check([rule], _TINY)[0] == "R: client pattern 'srv-C1-a' names no client scenario"


def test_the_other_problems_are_reported() -> None:
    silent = _rule(id="S", client=())
    problems = check([_rule(), _rule(), silent], _TINY)
    assert "R: duplicate rule id" in problems
    assert "S: no scenario, and neither untestable nor missing says why" in problems
    assert "checklist C2: no rule" in problems
    assert "checklist C1: no rule" not in problems
    assert check([dataclasses.replace(silent, missing="a scenario that ...")], _TINY)[0] == (
        "checklist C2: no rule"
    )


def test_unmapped_scenarios() -> None:
    rules = [_rule(client=("C1-a",), secret=("e2e-x",))]
    # a /partner run counts as named with its scenario
    assert unmapped_scenarios(rules, _TINY) == ["client C1-b", "server srv-C1-a"]


def test_every_scenario_id_is_known_once() -> None:
    ids = scenario_ids()
    everything = [i for side in ids.values() for i in side]
    assert len(everything) == len(set(everything))
    assert any(i.endswith("/partner") for i in ids["secret"])
    assert all(not i.startswith("srv-") for i in ids["client"])
    assert all(i.startswith("srv-") for i in ids["server"])


def test_load_rules_refuses_bad_tables() -> None:
    good = 'id = "X"\nsource = "digest §1"\nlevel = "MUST"\ntext = "t"\nmissing = "m"\n'
    assert load_rules("[[rule]]\n" + good) == [
        Rule(id="X", source="digest §1", level="MUST", text="t", missing="m")
    ]
    for bad, message in (
        (good + 'colour = "red"\n', "unknown keys"),
        (good.replace('"MUST"', '"MAY"'), "level"),
        (good.replace('text = "t"\n', ""), "needs text"),
        (good + 'client = "C1-*"\n', "client must be a list"),
        (good + "note = 3\n", "note must be a string"),
    ):
        with pytest.raises(ValueError, match=message):
            load_rules("[[rule]]\n" + bad)


def test_rules_are_well_formed() -> None:
    for rule in load_rules():
        assert re.fullmatch(r"[A-Z][A-Za-z0-9.]*(-[A-Za-z0-9.]+)*", rule.id), rule.id
        assert "\n" not in rule.text and len(rule.text) <= 300, rule.id
        if rule.source.startswith("checklist"):
            assert rule.level == "checklist", rule.id
            assert rule.id == f"CL-{rule.checklist_items[0]}", rule.id


def test_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check"]) == 0
    assert capsys.readouterr().out == ""
    target = tmp_path / "coverage.md"
    assert main(["--write", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == render_markdown(load_rules())


def test_the_map_is_package_data() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["mtcrypt"]
    assert any(fnmatchcase("testing/conformance/coverage.toml", p) for p in patterns)
    manifest = (ROOT / "MANIFEST.in").read_text(encoding="utf-8")
    assert re.search(r"^recursive-include mtcrypt .*\*\.toml", manifest, re.M)


def _section_mentioned(section: str, sources: list[str]) -> bool:
    pattern = re.compile(rf"§{re.escape(section)}(?!\d|\.\d)")
    return any(pattern.search(source) for source in sources)


@pytest.mark.skipif(
    not DIGEST.exists(),
    reason="the protocol digest (../shared/docs/mtproto2-digest.md) lives outside the "
    "repository and is absent here (always so in CI)",
)
def test_every_digest_section_with_a_must_or_should_has_a_rule() -> None:
    """Loose completeness: the section of every MUST/SHOULD line of the digest, and each
    numbered check list and secret-chat subsection, is the source of some rule."""
    sources = [rule.source for rule in load_rules() if rule.source.startswith("digest")]
    heading = re.compile(r"^#{2,4}\s+(\d+(?:\.\d+)*)\.?\s")
    normative = re.compile(r"\b(must|should)\b", re.I)
    section = "0"
    lines: list[tuple[int, str]] = []
    for number, line in enumerate(DIGEST.read_text(encoding="utf-8").splitlines(), 1):
        found = heading.match(line)
        if found:
            section = found[1]
        if normative.search(line):
            lines.append((number, section))
    assert len(lines) >= 20, "the digest's MUST/SHOULD lines were not found"
    uncovered = [f"line {n} (§{s})" for n, s in lines if not _section_mentioned(s, sources)]
    assert not uncovered, "MUST/SHOULD lines in sections no rule cites: " + ", ".join(uncovered)
    lists = ["1.7", "4.2", "4.3", "9", *(f"7.{n}" for n in range(1, 7))]
    assert [s for s in lists if not _section_mentioned(s, sources)] == []
