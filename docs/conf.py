"""Sphinx configuration. Build: ``python -m sphinx -W -b html docs docs/_build/html``
after ``pip install ".[docs]"`` (or ``pip install -e ".[docs]"``)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys
from pathlib import Path

# autodoc documents the *installed* mtcrypt, so the clone root is not put on sys.path.
# `python -m sphinx` run from the clone root puts it there anyway (the working directory
# comes first), and then the checkout's mtcrypt/ shadows a non-editable install
# (`pip install .`) and fails for want of its compiled core, which that install builds
# into site-packages only.  So take the clone root off sys.path, unless mtcrypt is then
# not found at all: then the checkout is the only mtcrypt there is (an editable install
# that works through a path entry, or none; its ImportError says what is missing).
_ROOT = Path(__file__).resolve().parent.parent
_path = list(sys.path)
sys.path[:] = [p for p in _path if Path(p or ".").resolve() != _ROOT]
if importlib.util.find_spec("mtcrypt") is None:
    sys.path[:] = _path

project = "mtcrypt"
author = "the mtcrypt developers"
copyright = "2026, the mtcrypt developers"
release = importlib.metadata.version("mtcrypt")  # the documented (installed) one

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3
exclude_patterns = ["_build", "performance-results.md"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
nitpicky = False
html_theme = "alabaster"
suppress_warnings = ["myst.xref_missing"]
