"""Sphinx configuration of adkit's documentation: ``make docs`` builds it into ``docs/_build/html``.

Plain Sphinx, MyST-NB and the pydata theme, offline: nothing is fetched at
build time. The tutorials are the stored notebooks of ``../notebooks``,
rendered with their outputs as they are (``nb_execution_mode = "off"``:
nbval checks that those outputs are current); they are copied into
``docs/tutorials/`` (git-ignored) when the build starts. The API reference
comes from adkit's docstrings (autodoc + napoleon, Google style), one page per
topic under ``docs/api/``; the elementary functions' table is generated from
``adkit.__all__``, the page of what adkit supports from its rule table and the
NumPy bridge's tables (``adkit.supported``), and the command line's help from
its parser, into ``docs/_generated/`` (git-ignored), and the build fails when a
public name of adkit is documented nowhere.

Offline too: the pages load nothing from the internet. MathJax is served from
``_static/mathjax`` (a vendored copy, see its README.md), and a widget in a
tutorial is shown as its picture, without the widget manager's JavaScript.
"""

from __future__ import annotations

import filecmp
import os
import re
import shutil
from pathlib import Path

import adkit

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
NOTEBOOKS = ROOT / "notebooks"
TUTORIALS = DOCS / "tutorials"  # copies of ../notebooks/NN_*.ipynb, made below (git-ignored)
GENERATED = DOCS / "_generated"  # pages written from adkit's public names (git-ignored)

# -- project ---------------------------------------------------------------------------------------

project = "adkit"
author = "the adkit developers"
copyright = "the adkit developers"
release = adkit.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_nb",  # Markdown (MyST) pages and the stored notebooks
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx_copybutton",
]

exclude_patterns = ["_build", "_generated", "jupyter_execute", "**.ipynb_checkpoints", ".DS_Store"]

# docs/benchmarks.md is written with the benchmarks; until it exists, benchmarks-pending.md stands in
# for it (index.md's toctree takes whichever of the two is there: the glob `benchmarks*`).
if (DOCS / "benchmarks.md").exists():
    exclude_patterns.append("benchmarks-pending.md")

# -- MyST and the notebooks ------------------------------------------------------------------------

nb_execution_mode = "off"  # render the stored outputs; nbval (make test) checks they are current
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
myst_url_schemes = ["http", "https", "mailto"]

# -- API reference ---------------------------------------------------------------------------------

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_typehints_description_target = "documented"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
add_module_names = False

# -- offline ---------------------------------------------------------------------------------------
# MathJax 3 from this site's own _static/mathjax (docs/_static/mathjax/README.md says what and whence), so
# that formulas render without the network; myst-parser adds its MathJax configuration ($...$ and the
# classes it marks) to whatever mathjax_path is.
mathjax_path = "mathjax/tex-chtml-full.js"
# Widgets: no widget manager from a CDN. A widget output is shown as the picture stored beside it in the
# same output (image/png), else as its text; each tutorial shows a static figure next to each widget.
nb_ipywidgets_js: dict = {}
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]

# No intersphinx by default: it downloads inventories. `ADKIT_DOCS_INTERSPHINX=1 make docs` turns it on
# where the network is there.
if os.environ.get("ADKIT_DOCS_INTERSPHINX") == "1":
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "matplotlib": ("https://matplotlib.org/stable", None),
    }

# -- HTML ------------------------------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"adkit {release}"
html_static_path = ["_static"]
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 6,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"index": [], "getting-started": [], "benchmarks*": []}

# -- the tutorials: copies of the stored notebooks -------------------------------------------------


def copy_tutorials(source: Path = NOTEBOOKS, target: Path = TUTORIALS) -> list[str]:
    """Mirror ``source/NN_*.ipynb`` into ``target``; return the names copied.

    Unchanged copies are left alone (their times too, so Sphinx does not
    re-read them) and copies whose notebook is gone are removed.
    """
    target.mkdir(exist_ok=True)
    wanted = {p.name: p for p in sorted(source.glob("[0-9][0-9]*_*.ipynb"))}
    for stale in target.glob("*.ipynb"):
        if stale.name not in wanted:
            stale.unlink()
    for name, path in wanted.items():
        copy = target / name
        if not copy.exists() or not filecmp.cmp(path, copy, shallow=False):
            shutil.copy2(path, copy)
    return sorted(wanted)


# -- the primitives of the rule table, from adkit.__all__ ------------------------------------------

API_PAGES = sorted(str(p.relative_to(DOCS)) for p in (DOCS / "api").glob("*.rst"))  # adkit's public names


def _arguments(prim: adkit.Primitive) -> str:
    if prim.partials is not None:
        arity = len(prim.partials)
    elif isinstance(prim.jvps, (tuple, list)):
        arity = len(prim.jvps)
    else:
        return "*operands"
    return {1: "x", 2: "x1, x2"}.get(arity, ", ".join(f"x{i + 1}" for i in range(arity)))


def primitives_page(elementwise: bool, special: bool = False) -> str:
    """autodoc entries for the adkit.Primitive objects of ``__all__``: elementwise ones or the others,
    those computed by scipy.special (``special``) or not.

    Primitives are callable objects, not functions: each gets its arguments
    written out (``sin(x)``, ``add(x1, x2)``) instead of ``(*operands, **params)``.
    """
    from adkit.rules import SPECIAL

    lines = []
    for name in adkit.__all__:
        prim = getattr(adkit, name)
        if (
            isinstance(prim, adkit.Primitive)
            and (prim.partials is not None) == elementwise
            and (prim.name in SPECIAL) == special
        ):
            lines += [f".. autofunction:: adkit.{name}({_arguments(prim)})", ""]
    return "\n".join(lines)


def write_if_changed(path: Path, text: str) -> None:
    path.parent.mkdir(exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


# -- every public name is documented somewhere -----------------------------------------------------

# ".. autofunction:: adkit.grad", ".. autoclass:: adkit.Dual", ".. automodule:: adkit.numerical" ...
_DOCUMENTED = re.compile(
    r"^\.\. (?:auto|py:)(?:function|class|exception|module)::\s+(?:adkit\.)?([\w.]+)", re.MULTILINE
)


def undocumented_names() -> list[str]:
    """Names of ``adkit.__all__`` that no API page documents."""
    documented = set()
    for page in API_PAGES:
        for match in _DOCUMENTED.finditer((DOCS / page).read_text(encoding="utf-8")):
            documented.add(match.group(1).removeprefix("adkit."))
    primitives = {n for n in adkit.__all__ if isinstance(getattr(adkit, n), adkit.Primitive)}
    return sorted(set(adkit.__all__) - documented - primitives)


def _check_api_coverage(app, env) -> None:
    from sphinx.util import logging

    missing = undocumented_names()
    if missing:
        pages = ", ".join(API_PAGES)
        logging.getLogger(__name__).warning(
            "adkit's public names missing from the API reference (%s): %s", pages, ", ".join(missing)
        )


# -- the command line's help, from its parser -------------------------------------------------------


def cli_help() -> dict[str, str]:
    """``adkit --help`` and the help of each sub-command, as the terminal shows them (80 columns)."""
    import argparse

    from adkit.cli import build_parser

    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "80"  # argparse wraps to the terminal's width
    try:
        parser = build_parser("adkit")
        pages = {"adkit": parser.format_help()}
        for action in parser._actions:  # argparse keeps its sub-commands in the one _SubParsersAction
            if isinstance(action, argparse._SubParsersAction):
                pages.update({name: sub.format_help() for name, sub in action.choices.items()})
    finally:
        if columns is None:
            os.environ.pop("COLUMNS")
        else:
            os.environ["COLUMNS"] = columns
    return pages


def setup(app):
    from adkit import supported

    copy_tutorials()
    write_if_changed(GENERATED / "supported.md", supported.page())
    write_if_changed(GENERATED / "elementwise.rst", primitives_page(elementwise=True))
    write_if_changed(GENERATED / "special.rst", primitives_page(elementwise=True, special=True))
    write_if_changed(GENERATED / "matrix.rst", primitives_page(elementwise=False))
    for name, text in cli_help().items():
        write_if_changed(GENERATED / f"cli-{name}.txt", text)
    app.connect("env-check-consistency", _check_api_coverage)
    return {"parallel_read_safe": True}
