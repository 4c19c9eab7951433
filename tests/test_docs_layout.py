"""The docs stay readable: code blocks fit the page, and the API reference names every
public object once.  Reads the markdown only (``test_docs.py`` builds the site)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import mtcrypt

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference"
MAX_LINE = 88

# Every top-level package of mtcrypt is public (``mtcrypt.x`` without a leading
# underscore); these modules below them are too, and are documented on their own.
PUBLIC_SUBMODULES = (
    "mtcrypt.compat.cryptg",
    "mtcrypt.compat.tgcrypto",
    "mtcrypt.e2e.mutators",
    "mtcrypt.e2e.strategies",
    "mtcrypt.testing.conformance",
    "mtcrypt.testing.conformance.numbering",
    "mtcrypt.testing.mutators",
    "mtcrypt.testing.strategies",
)

# Directives that describe one module-level object (not a member of a class).
_OBJECT_DIRECTIVES = frozenset(
    {"autoclass", "autoexception", "autofunction", "autodata", "autodecorator"}
    | {"py:class", "py:exception", "py:function", "py:data", "py:decorator", "py:type"}
)
_SET_MODULE = frozenset({"automodule", "py:module", "currentmodule", "py:currentmodule"})

_FENCE_OPEN = re.compile(r"^\s*(?P<fence>`{3,}|~{3,})")
_RST_DIRECTIVE = re.compile(r"^(?P<indent>\s*)\.\. (?P<kind>[\w:]+)::\s*(?P<target>\S*)")
_MYST_DIRECTIVE = re.compile(
    r"^(?P<indent>\s*)(?:`{3,}|~{3,})\{(?P<kind>[\w:]+)\}\s*(?P<target>\S*)"
)
_OPTION = re.compile(r"^(?P<indent>\s*):(?P<name>[\w-]+):\s*(?P<value>.*)$")


def _doc_pages() -> list[Path]:
    return sorted(
        p
        for p in DOCS.rglob("*.md")
        if not any(part.startswith(("_", ".")) for part in p.relative_to(DOCS).parts)
    )


def _code_block_lines(text: str) -> list[tuple[int, str]]:
    """``(line number, line)`` of every line inside a backtick or tilde fence."""
    found: list[tuple[int, str]] = []
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if fence is None:
            opened = _FENCE_OPEN.match(line)
            if opened:
                fence = opened["fence"]
            continue
        stripped = line.strip()
        if stripped.startswith(fence) and stripped == fence[0] * len(stripped):
            fence = None
        else:
            found.append((number, line.rstrip()))
    return found


def test_code_blocks_fit_the_page() -> None:
    too_long = [
        f"{page.relative_to(ROOT)}:{number}: {len(line)} characters"
        for page in _doc_pages()
        for number, line in _code_block_lines(page.read_text(encoding="utf-8"))
        if len(line) > MAX_LINE
    ]
    assert not too_long, f"code lines over {MAX_LINE} characters:\n" + "\n".join(too_long)


def test_the_fence_parser() -> None:
    text = "x\n````md\n```python\ninside\n```\n````\n~~~\ntilde\n~~~\n:::{note}\nprose\n:::\n"
    assert [line for _, line in _code_block_lines(text)] == [
        "```python",
        "inside",
        "```",
        "tilde",
    ]


# ---- the API reference ---------------------------------------------------------------


@dataclass
class _Directive:
    page: str
    line: int
    kind: str
    target: str
    options: dict[str, str] = field(default_factory=dict)
    module: str | None = None  # the current module where the directive appears


def _directives(page: Path) -> list[_Directive]:
    """The directives of a page (reST in ``{eval-rst}`` blocks, or MyST fences), with
    their options (an indented line that is not an option continues the last one)."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[_Directive] = []
    current: str | None = None
    for i, line in enumerate(lines):
        match = _RST_DIRECTIVE.match(line) or _MYST_DIRECTIVE.match(line)
        if not match:
            continue
        directive = _Directive(page.name, i + 1, match["kind"], match["target"], module=current)
        last: str | None = None
        option_indent = 0
        for follow in lines[i + 1 :]:
            option = _OPTION.match(follow)
            if option:
                last, option_indent = option["name"], len(option["indent"])
                directive.options[last] = option["value"].strip()
            elif last and follow.strip() and len(follow) - len(follow.lstrip()) > option_indent:
                directive.options[last] += " " + follow.strip()
            else:
                break
        if directive.kind in _SET_MODULE:
            current = directive.target
        found.append(directive)
    return found


def _public_modules() -> dict[str, ModuleType]:
    top = [
        f"mtcrypt.{info.name}"
        for info in pkgutil.iter_modules(mtcrypt.__path__)
        if not info.name.startswith("_")
    ]
    return {name: importlib.import_module(name) for name in sorted({*top, *PUBLIC_SUBMODULES})}


def _public_names(module: ModuleType) -> list[str]:
    """``__all__``; without one, the classes and functions the module defines."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == module.__name__
    ]


def _split(names: str) -> set[str]:
    return {name.strip() for name in names.split(",") if name.strip()}


def _documented(modules: dict[str, ModuleType]) -> tuple[Counter[tuple[str, str]], list[str]]:
    """How often each ``(module, name)`` is documented, and the directives that name an
    object outside the public modules."""
    counts: Counter[tuple[str, str]] = Counter()
    stray: list[str] = []
    for page in sorted(REFERENCE.glob("*.md")):
        for d in _directives(page):
            where = f"{d.page}:{d.line}: {d.kind} {d.target}"
            if d.kind == "automodule":
                if "members" not in d.options or d.target not in modules:
                    continue
                listed = _split(d.options["members"])
                names = listed or set(_public_names(modules[d.target]))
                for name in names - _split(d.options.get("exclude-members", "")):
                    counts[d.target, name] += 1
            elif d.kind in _OBJECT_DIRECTIVES:
                target = d.target.split("(", 1)[0]
                if d.kind.startswith("py:"):
                    module, name = d.options.get("module", d.module), target
                elif "." in target:
                    module, _, name = target.rpartition(".")
                else:
                    module, name = d.module, target
                if module in modules:
                    counts[module, name] += 1
                else:
                    stray.append(where)
    return counts, stray


def test_reference_names_every_public_object_once() -> None:
    modules = _public_modules()
    counts, stray = _documented(modules)
    expected = {(m, name) for m, module in modules.items() for name in _public_names(module)}
    missing = sorted(f"{m}.{name}" for m, name in expected if counts[m, name] == 0)
    twice = sorted(f"{m}.{name}" for (m, name), n in counts.items() if n > 1)
    unknown = sorted(f"{m}.{name}" for m, name in counts.keys() - expected)
    assert not missing, "not in docs/reference/*.md: " + ", ".join(missing)
    assert not twice, "documented more than once: " + ", ".join(twice)
    assert not unknown, "documented but not public: " + ", ".join(unknown)
    assert not stray, "documented outside the public modules:\n" + "\n".join(stray)


def test_written_out_values_are_current() -> None:
    """A ``py:data`` written by hand (autodoc would show an int's or a tuple's own
    docstring for a re-exported constant) gives the value it has."""
    modules = _public_modules()
    checked = 0
    for page in sorted(REFERENCE.glob("*.md")):
        for d in _directives(page):
            if d.kind == "py:data" and "value" in d.options:
                module = d.options.get("module", d.module)
                assert module in modules, f"{d.page}:{d.line}: no module for {d.target}"
                actual = repr(getattr(modules[module], d.target))
                assert d.options["value"] == actual, f"{d.page}:{d.line}: {d.target} = {actual}"
                checked += 1
    assert checked


def test_reference_pages_are_in_its_toctree() -> None:
    index = (REFERENCE / "index.md").read_text(encoding="utf-8")
    toctree = re.search(r"```\{toctree\}\n(.*?)```", index, re.S)
    assert toctree
    entries = {
        line.strip()
        for line in toctree[1].splitlines()
        if line.strip() and not line.startswith(":")
    }
    pages = {p.stem for p in REFERENCE.glob("*.md")} - {"index"}
    assert entries == pages


def test_citation_keys_in_the_source_are_defined() -> None:
    """Every ``[KEY]`` source key and ``checklist Xn`` item cited in mtcrypt/
    is defined on docs/protocol/references.md."""
    import re

    root = Path(__file__).resolve().parent.parent
    page = (root / "docs" / "protocol" / "references.md").read_text(encoding="utf-8")
    defined_keys = set(re.findall(r"^\| \[([A-Z0-9]+)(?::path)?\] \|", page, re.M))
    defined_items = set(re.findall(r"^\| ([A-Z][0-9]+) \|", page, re.M))
    missing = set()
    for path in (root / "mtcrypt").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for key in re.findall(r"(?<![\w\]])\[([A-Z][A-Z0-9]{0,6})(?::[^\]]*)?\]", text):
            if key not in defined_keys and not key.isdigit():
                missing.add(f"{path.name}: [{key}]")
        for group in re.findall(r"checklist ((?:[A-Z][0-9]+(?:[-,/ ]+(?:and )?)?)+)", text):
            for item in re.findall(r"[A-Z][0-9]+", group):
                if item not in defined_items:
                    missing.add(f"{path.name}: checklist {item}")
    assert not missing, sorted(missing)
