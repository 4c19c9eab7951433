"""The conformance coverage map: which scenarios test which protocol rule.

The rules are every MUST and SHOULD of the project's protocol digest (its
numbered check lists and the secret-chat rules included), every item of the
security checklist's hardening list, and a few rules of the specification the
digest leaves out.  They are data, in ``coverage.toml`` next to this module:
one ``[[rule]]`` table each, naming the client, server and secret-chat
scenarios that test the rule (ids or globs, as ``--only`` takes them) and,
where the wire cannot show the rule, why (``untestable``), or, where it could
but no scenario does yet, what one would do (``missing``).

:func:`load_rules` reads the map, :func:`check` holds it against the scenario
catalog (every pattern names a scenario of its role, every rule has scenarios
or a reason, every checklist item has a rule), and :func:`render_markdown`
makes the documentation page::

    python -m mtcrypt.testing.conformance.coverage --write docs/protocol/coverage.md
    python -m mtcrypt.testing.conformance.coverage --check
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from fnmatch import fnmatchcase
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

__all__ = [
    "CHECKLIST_ITEMS",
    "Level",
    "Rule",
    "Side",
    "check",
    "load_rules",
    "main",
    "render_markdown",
    "scenario_ids",
    "unmapped_scenarios",
]

Level = Literal["MUST", "SHOULD", "checklist"]
Side = Literal["client", "server", "secret"]
SIDES: tuple[Side, ...] = get_args(Side)

CHECKLIST_ITEMS: tuple[str, ...] = (
    *(f"C{n}" for n in range(1, 10)),
    *(f"S{n}" for n in range(1, 5)),
    *(f"H{n}" for n in range(1, 7)),
    *(f"P{n}" for n in range(1, 5)),
    *(f"T{n}" for n in range(1, 4)),
    "E1",
)
"""The items of the security checklist's hardening list."""

DATA_FILE = "coverage.toml"
PAGE = "docs/protocol/coverage.md"
_COMMAND = f"python -m mtcrypt.testing.conformance.coverage --write {PAGE}"


@dataclass(frozen=True)
class Rule:
    """One rule and the scenarios that test it, by the role the implementation plays."""

    id: str
    source: str
    """Where the rule comes from: ``digest §n.m``, ``checklist Xn``, or the specification."""
    level: Level
    text: str
    client: tuple[str, ...] = ()
    server: tuple[str, ...] = ()
    secret: tuple[str, ...] = ()
    untestable: str = ""
    """What of the rule cannot be observed on the wire, and why."""
    missing: str = ""
    """What a scenario would do where the rule could be tested but is not yet."""
    note: str = ""

    def patterns(self, side: Side) -> tuple[str, ...]:
        """The scenario ids or globs testing the rule on ``side``."""
        patterns: tuple[str, ...] = getattr(self, side)
        return patterns

    @property
    def tested(self) -> bool:
        """Whether any scenario tests the rule."""
        return any(self.patterns(side) for side in SIDES)

    @property
    def checklist_items(self) -> tuple[str, ...]:
        """The checklist items the rule stands for (from its source)."""
        if not self.source.startswith("checklist"):
            return ()
        return tuple(re.findall(r"\b([A-Z][0-9]+)\b", self.source))


# ---- reading ---------------------------------------------------------------------------

_TEXT_FIELDS = ("id", "source", "text", "untestable", "missing", "note")
_REQUIRED = ("id", "source", "level", "text")


def _rule(number: int, table: Mapping[str, Any]) -> Rule:
    where = f"rule {number} ({table.get('id', 'no id')})"
    known = {f.name for f in fields(Rule)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown}")
    absent = [name for name in _REQUIRED if not table.get(name)]
    if absent:
        raise ValueError(f"{where}: needs {', '.join(absent)}")
    for name in _TEXT_FIELDS:
        if not isinstance(table.get(name, ""), str):
            raise ValueError(f"{where}: {name} must be a string")
    level = table["level"]
    if level not in get_args(Level):
        raise ValueError(f"{where}: level must be one of {get_args(Level)}")
    lists: dict[str, tuple[str, ...]] = {}
    for side in SIDES:
        value = table.get(side, [])
        if not isinstance(value, list) or not all(isinstance(p, str) and p for p in value):
            raise ValueError(f"{where}: {side} must be a list of scenario ids or globs")
        lists[side] = tuple(value)
    return Rule(
        id=table["id"],
        source=table["source"],
        level=level,
        text=table["text"],
        client=lists["client"],
        server=lists["server"],
        secret=lists["secret"],
        untestable=table.get("untestable", ""),
        missing=table.get("missing", ""),
        note=table.get("note", ""),
    )


def load_rules(text: str | None = None) -> list[Rule]:
    """The rules of ``coverage.toml`` (shipped with the package), or of ``text``, in order.

    :raises ValueError: a table with unknown keys, a missing field or a wrong type.
    """
    if text is None:
        text = resources.files(__package__).joinpath(DATA_FILE).read_text(encoding="utf-8")
    data = tomllib.loads(text)
    tables = data.get("rule", [])
    if not isinstance(tables, list):
        raise ValueError("expected [[rule]] tables")
    return [_rule(number, table) for number, table in enumerate(tables, 1)]


# ---- checking ----------------------------------------------------------------------------


def scenario_ids() -> dict[Side, list[str]]:
    """Every scenario id by the role it tests: the built-in client and server scenarios, and
    the secret-chat scenarios with their ``/partner`` runs."""
    from .catalog import default_scenarios
    from .secret import secret_scenarios

    ids: dict[Side, list[str]] = {side: [] for side in SIDES}
    for scenario in default_scenarios():
        ids["client" if scenario.role == "client" else "server"].append(scenario.id)
    for secret in secret_scenarios():
        for role in secret.roles:
            ids["secret"].append(secret.id if role == "creator" else f"{secret.id}/{role}")
    return ids


def _matches(pattern: str, ids: Iterable[str]) -> list[str]:
    return [i for i in ids if fnmatchcase(i, pattern)]


def check(
    rules: Sequence[Rule], scenarios: Mapping[Side, Sequence[str]] | None = None
) -> list[str]:
    """The problems of the map, one line each (none: ``[]``).

    A problem is a pattern that names no scenario of its role (in ``scenarios``,
    by default :func:`scenario_ids`), a rule without scenarios that says neither
    why (``untestable``) nor what is to be done (``missing``), an id used twice,
    or a checklist item no rule stands for.
    """
    ids = scenario_ids() if scenarios is None else scenarios
    problems: list[str] = []
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            problems.append(f"{rule.id}: duplicate rule id")
        seen.add(rule.id)
        for side in SIDES:
            for pattern in rule.patterns(side):
                if not _matches(pattern, ids.get(side, ())):
                    problems.append(
                        f"{rule.id}: {side} pattern {pattern!r} names no {side} scenario"
                    )
        if not rule.tested and not (rule.untestable or rule.missing):
            problems.append(f"{rule.id}: no scenario, and neither untestable nor missing says why")
    covered = {item for rule in rules for item in rule.checklist_items}
    problems += [f"checklist {item}: no rule" for item in CHECKLIST_ITEMS if item not in covered]
    return problems


def unmapped_scenarios(
    rules: Sequence[Rule], scenarios: Mapping[Side, Sequence[str]] | None = None
) -> list[str]:
    """Scenarios no rule names (a ``/partner`` run counts as named with its scenario)."""
    ids = scenario_ids() if scenarios is None else scenarios
    out: list[str] = []
    for side in SIDES:
        patterns = [p for rule in rules for p in rule.patterns(side)]
        for scenario in ids.get(side, ()):
            base = scenario.split("/", 1)[0]
            if not any(fnmatchcase(scenario, p) or fnmatchcase(base, p) for p in patterns):
                out.append(f"{side} {scenario}")
    return out


# ---- the page ------------------------------------------------------------------------------

_DIGEST_SECTIONS = {
    1: "the MTProto 2.0 encrypted message",
    2: "MTProto 1.0",
    3: "unencrypted messages",
    4: "auth key creation",
    5: "temporary keys and PFS",
    6: "transports",
    7: "secret chats",
    8: "service messages",
    9: "the receiver's order of checks",
    10: "decisions the spec leaves open",
}
_CHECKLIST_GROUPS = {
    "C": "the record layer, receiving",
    "S": "the record layer, sending",
    "H": "the handshake",
    "P": "primitives and engineering",
    "T": "transport and obfuscation",
    "E": "secret chats",
}


def _section(rule: Rule) -> tuple[int, int, str]:
    """Sort key and title of the table a rule goes in."""
    digest = re.match(r"digest §(\d+)", rule.source)
    if digest:
        number = int(digest[1])
        return 0, number, f"Digest §{number}: {_DIGEST_SECTIONS.get(number, 'other')}"
    items = rule.checklist_items
    if items:
        letter = items[0][0]
        order = list(_CHECKLIST_GROUPS).index(letter) if letter in _CHECKLIST_GROUPS else 99
        return 2, order, f"Checklist {letter}: {_CHECKLIST_GROUPS.get(letter, 'other')}"
    return 1, 0, "Rules of the specification the digest leaves out"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _codes(patterns: Sequence[str]) -> str:
    return ", ".join(f"`{p}`" for p in patterns) if patterns else "—"


def _note(rule: Rule) -> str:
    parts = [rule.note] if rule.note else []
    if rule.untestable:
        parts.append(f"**untestable:** {rule.untestable}")
    if rule.missing:
        parts.append(f"**missing:** {rule.missing}")
    return _cell("; ".join(parts)) if parts else ""


def _counts(rules: Sequence[Rule]) -> list[tuple[str, int]]:
    return [
        ("rules", len(rules)),
        ("with a client scenario", sum(bool(r.client) for r in rules)),
        ("with a server scenario", sum(bool(r.server) for r in rules)),
        ("with a secret-chat scenario", sum(bool(r.secret) for r in rules)),
        ("with no scenario at all", sum(not r.tested for r in rules)),
        ("with a part not testable on the wire", sum(bool(r.untestable) for r in rules)),
        ("with a scenario still to write", sum(bool(r.missing) for r in rules)),
    ]


_INTRO = f"""\
# Conformance coverage map

Which [conformance scenarios](../guides/fuzzing.md) test which rule: every MUST and SHOULD
of the protocol digest (its numbered check lists and the secret-chat rules included), every
item of the security checklist's hardening list (C1-C9, S1-S4, H1-H6, P1-P4, T1-T3, E1), and
a few rules of the specification the digest leaves out.  The page is generated from
`mtcrypt/testing/conformance/coverage.toml`; do not edit it by hand, but edit the data and run

```sh
{_COMMAND}
python -m mtcrypt.testing.conformance.coverage --check
```

`--check` fails when a scenario named here does not exist, a rule has neither scenarios nor a
reason, or a checklist item has no rule (`tests/test_conformance_coverage.py` runs it).

How to read the tables:

* **client**, **server**, **secret-chat**: the scenarios that test the rule with the
  implementation in that role, as ids or globs (`--only` takes them as they are).  A
  secret-chat scenario on an open chat also runs with the target as the other side, as
  `<id>/partner`; the id stands for both runs.
* A *control* (`C-honest`, `H-honest`, `srv-C-honest`, ...) is listed for a sending rule
  only where the runner's side of the connection is mtcrypt's own, which refuses what
  breaks the rule, so that the control would not pass; the note says so.
* **untestable**: what of the rule cannot be observed on the wire (timing, memory, local
  configuration, randomness), and why.
* **missing**: the rule could be tested from the wire, but no scenario does yet; the text
  says what one would do.  The list at the end gathers them.
"""


def render_markdown(rules: Sequence[Rule]) -> str:
    """The documentation page (MyST markdown) for ``rules``."""
    lines = [_INTRO, "## Counts", "", "| | rules |", "|---|---|"]
    lines += [f"| {label} | {count} |" for label, count in _counts(rules)]
    groups: dict[tuple[int, int, str], list[Rule]] = {}
    for rule in rules:
        groups.setdefault(_section(rule), []).append(rule)
    for key in sorted(groups):
        lines += [
            "",
            f"## {key[2]}",
            "",
            "| rule | level | text | client | server | secret-chat | note |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in groups[key]:
            cells = [
                f"`{r.id}` ({_cell(r.source)})",
                r.level,
                _cell(r.text),
                _codes(r.client),
                _codes(r.server),
                _codes(r.secret),
                _note(r),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    todo = [r for r in rules if r.missing]
    lines += ["", "## Scenarios still to write", ""]
    lines += [f"* `{r.id}`: {' '.join(r.missing.split())}" for r in todo] or ["None."]
    return "\n".join(lines) + "\n"


# ---- command line ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mtcrypt.testing.conformance.coverage [--check] [--write PATH]``: without
    ``--write`` the page goes to standard output; ``--check`` prints the problems, one per
    line, and exits with 1 if there are any (scenarios no rule names are listed on standard
    error, as a reminder, without failing)."""
    parser = argparse.ArgumentParser(
        prog="python -m mtcrypt.testing.conformance.coverage",
        description="The conformance coverage map: check it, or write its documentation page.",
    )
    parser.add_argument("--write", metavar="PATH", help=f"write the page to PATH ({PAGE})")
    parser.add_argument("--check", action="store_true", help="check the map; exit 1 on problems")
    args = parser.parse_args(argv)
    rules = load_rules()
    if args.check:
        problems = check(rules)
        for problem in problems:
            print(problem)
        for scenario in unmapped_scenarios(rules):
            print(f"note: no rule names the {scenario} scenario", file=sys.stderr)
        if problems:
            return 1
    page = render_markdown(rules)
    if args.write:
        Path(args.write).write_text(page, encoding="utf-8")
    elif not args.check:
        sys.stdout.write(page)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
