"""Build the tutorials: pair, execute, store; or run them all into HTML for ``make demo``.

Each tutorial is written as a jupytext "percent" script ``notebooks/NN_name.py``
(what reviews read) and stored as ``notebooks/NN_name.ipynb`` executed, with
its outputs (what nbval checks and the docs render).

    python notebooks/build.py                 # execute every NN_*.py into its .ipynb
    python notebooks/build.py 03_forward_mode # just these
    python notebooks/build.py --demo out      # execute every notebook into out/*.html + index

Execution is headless (nbclient, the current interpreter's ``python3``
kernel), from the notebooks folder, with matplotlib's inline backend.
Outputs are made reproducible: execution timestamps are removed and the
kernel metadata fixed, so rebuilding an unchanged notebook gives the same
file.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
TIMEOUT = 600  # seconds per cell


def sources(names: list[str]) -> list[Path]:
    """The tutorial scripts to build (all ``NN_*.py`` when no names are given)."""
    if not names:
        return sorted(HERE.glob("[0-9][0-9]*_*.py"))
    paths = []
    for name in names:
        path = HERE / (Path(name).stem + ".py")
        if not path.exists():
            sys.exit(f"build.py: no tutorial script {path.relative_to(HERE.parent)}")
        paths.append(path)
    return paths


def _quiet_environment() -> dict[str, str]:
    """Keep the user's Jupyter and matplotlib settings out of the stored outputs."""
    home = Path(tempfile.mkdtemp(prefix="adkit-nb-"))
    env = {
        "MPLCONFIGDIR": str(home / "mpl"),
        "IPYTHONDIR": str(home / "ipython"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }
    os.environ.update(env)
    os.environ.pop("MPLBACKEND", None)
    return env


def execute(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel from the notebooks folder."""
    client = NotebookClient(
        notebook,
        timeout=TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(HERE)}},
        allow_errors=False,
        record_timing=False,
        # ipykernel 7 logs a warning about unencrypted local TCP at every start: keep make demo's output
        # to one line per notebook (errors are still logged, and cell outputs are unaffected)
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
    )
    client.execute()
    return notebook


# The notebook metadata exactly as JupyterLab and jupytext write it when a learner opens and saves a tutorial
# (tests/test_notebooks.py re-saves each one through jupytext's contents manager and expects no change):
# the kernelspec of ipykernel's "python3" kernel, which JupyterLab copies in when the kernel starts, and
# the pairing with the script. jupytext stamps its own version into a script's header on every save; the
# filter leaves it out, so that saving with another jupytext release changes nothing either.
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
JUPYTEXT = {
    "formats": "ipynb,py:percent",
    "notebook_metadata_filter": "-jupytext.text_representation.jupytext_version",
}


def _normalize(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    # what jupytext.read adds from the script's header (its text representation) stays in the script
    notebook.metadata["jupytext"] = dict(JUPYTEXT)
    if not _has_widgets(notebook):
        notebook.metadata.pop("widgets", None)
    elif "widgets" in notebook.metadata:
        notebook.metadata["widgets"] = _as_javascript_saves_it(notebook.metadata["widgets"])
    seen: dict[str, int] = {}
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        # jupytext gives every cell a random id: derive it from the cell instead, so that a rebuild
        # changes the ids of edited cells only
        digest = hashlib.sha1(f"{cell.cell_type}\n{cell.source}".encode()).hexdigest()[:8]
        seen[digest] = seen.get(digest, 0) + 1
        cell.id = digest if seen[digest] == 1 else f"{digest}-{seen[digest]}"
    return notebook


def _as_javascript_saves_it(value):
    """The widget state as JupyterLab writes it back: JSON through JavaScript, where 2.0 is the number 2."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return type(value)((key, _as_javascript_saves_it(item)) for key, item in value.items())
    if isinstance(value, list):
        return [_as_javascript_saves_it(item) for item in value]
    return value


def _has_widgets(notebook: nbformat.NotebookNode) -> bool:
    return any(
        "application/vnd.jupyter.widget-view+json" in out.get("data", {})
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
    )


def build(path: Path) -> Path:
    """Execute ``NN_name.py`` and store it as ``NN_name.ipynb`` with outputs."""
    missing = _missing(path.stem)
    if missing:
        sys.exit(f"build.py: {path.stem} compares adkit with {missing[1]}, which is not installed: "
                 f"`pip install {missing[2]}` first (stored outputs would only say it is missing)")
    notebook = jupytext.read(path)
    notebook = _normalize(execute(notebook))
    if path.stem in OPTIONAL:  # make demo's stored-results page says with what the outputs were computed
        notebook.metadata["adkit"] = {"built_with": _versions(OPTIONAL[path.stem][0])}
    target = path.with_suffix(".ipynb")
    jupytext.write(notebook, target, fmt="ipynb")
    return target


# -- make demo: every tutorial as an HTML page, readable offline ------------------------------------

# Tutorials that compare adkit with a package beyond the demo extra: make demo installs it (the Makefile's
# .stamp-torch); where that failed, the page shows the stored notebook's outputs, marked as stored.
OPTIONAL = {"08_comparison_with_pytorch": ("torch", "PyTorch", "torch==2.13.0")}

MATHJAX = HERE.parent / "docs" / "_static" / "mathjax"  # MathJax 3, vendored: see its README.md
MATHJAX_URL = "_static/mathjax/tex-chtml-full.js"

# nbconvert's lab template, with nothing fetched from the internet: MathJax from out/_static (configured for
# $...$ as in JupyterLab); no require.js, widget manager or mermaid loader. A widget is shown as its picture
# (display_data_priority below has no widget view): a page without a kernel cannot move its sliders, and
# the picture is what the notebook shows next to each widget anyway.
PAGE_TEMPLATE = r"""{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_js_mathjax -%}
""" + "{{ mathjax_config }}" + r"""
{%- endblock html_head_js_mathjax -%}
"""
MATHJAX_CONFIG = (
    "<script>window.MathJax = {tex: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']], "
    "displayMath: [['$$', '$$'], ['\\\\[', '\\\\]']], processEscapes: true, processEnvironments: true, "
    "tags: 'ams'}};</script>\n"
    '<script defer src="URL"></script>'
)
DATA_PRIORITY = ["text/html", "text/markdown", "image/svg+xml", "text/latex", "image/png", "image/jpeg",
                 "text/plain"]


def _exporter():
    import jinja2
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    config = Config({"NbConvertBase": {"display_data_priority": DATA_PRIORITY}})
    template = PAGE_TEMPLATE.replace("{{ mathjax_config }}", MATHJAX_CONFIG.replace("URL", MATHJAX_URL))
    return HTMLExporter(
        config=config,
        template_name="lab",
        extra_loaders=[jinja2.DictLoader({"adkit_page.html.j2": template})],
        template_file="adkit_page.html.j2",
        embed_images=True,
    )


def _missing(stem: str) -> tuple[str, str, str] | None:
    """(module, name, requirement) of the optional package a tutorial needs, when it is not installed."""
    import importlib.util

    need = OPTIONAL.get(stem)
    return need if need and importlib.util.find_spec(need[0]) is None else None


def _versions(module: str | None = None) -> dict[str, str]:
    import platform
    from importlib.metadata import version

    import numpy

    import adkit

    found = {"adkit": adkit.__version__, "numpy": numpy.__version__, "python": platform.python_version()}
    if module:
        found[module] = version(module)
    return found


def _stored_on(path: Path) -> str:
    """The date of the stored notebook: its last commit, else its file's time."""
    import datetime
    import subprocess

    try:
        date = subprocess.run(["git", "log", "-1", "--format=%cs", "--", path.name], cwd=HERE,
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        date = ""
    return date or datetime.date.fromtimestamp(path.stat().st_mtime).isoformat()


def _stored_page(path: Path, missing: tuple[str, str, str]) -> nbformat.NotebookNode:
    """The stored notebook, with a note after its title: its outputs are stored, from when, with what."""
    module, name, requirement = missing
    notebook = nbformat.read(path, as_version=4)
    built = notebook.metadata.get("adkit", {}).get("built_with", {})
    keys = (module, "adkit", "numpy", "python")
    versions = ", ".join(f"{key} {built[key]}" for key in keys if key in built)
    note = nbformat.v4.new_markdown_cell(
        f"> **Stored results.** {name} is not installed here (`make demo` tries "
        f"`pip install {requirement}`), "
        f"so this page shows the outputs stored with the tutorial in `notebooks/{path.name}` instead of "
        f"running it afresh: stored on {_stored_on(path)}, computed with {versions or 'unrecorded versions'}."
    )
    notebook.cells.insert(1, note)
    return notebook


def _summary(notebook: nbformat.NotebookNode) -> tuple[str, str]:
    """The title of a tutorial, and its first paragraph's whole sentences (empty if it has none)."""
    markdown = [c.source for c in notebook.cells if c.cell_type == "markdown" and c.source.strip()]
    lines = (markdown[0] if markdown else "").strip().splitlines()
    title = lines[0].lstrip("# ").strip() if lines else ""
    paragraph = []
    for line in lines[1:]:
        if not line.strip():
            if paragraph:
                break
            continue
        paragraph.append(line.strip())
    text = " ".join(paragraph)
    return title, text[: text.rfind(". ") + 1] if not text.endswith(".") else text


def _markdown_inline(text: str) -> str:
    """Escaped text with `code`, **bold** and *italic* as HTML (math stays for MathJax)."""
    import re

    text = html.escape(text, quote=False)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)
    text = re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*", r"<em>\1</em>", text)
    return re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)


INDEX_STYLE = """
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328;
       background: #f6f8fa; margin: 0; }
main { max-width: 52rem; margin: 0 auto; padding: 2.5rem 1.25rem 3rem; }
h1 { font-size: 2rem; margin: 0 0 .25rem; }
.lead { color: #57606a; margin: 0 0 1.75rem; }
ol { list-style: none; padding: 0; margin: 0; display: grid; gap: .75rem; }
li a { display: grid; grid-template-columns: 2.5rem 1fr; gap: 0 .75rem; padding: .9rem 1.1rem;
       background: #fff; border: 1px solid #d0d7de; border-radius: 10px; color: inherit;
       text-decoration: none; }
li a:hover, li a:focus { border-color: #0969da; box-shadow: 0 1px 6px rgba(9, 105, 218, .18); }
.number { grid-row: span 3; font-size: 1.5rem; font-weight: 600; color: #0969da; text-align: right; }
.title { font-weight: 600; font-size: 1.1rem; }
.summary { color: #424a53; font-size: .95rem; }
.facts { color: #6e7781; font-size: .85rem; }
.stored { color: #9a6700; font-weight: 600; }
code { font: .9em ui-monospace, SFMono-Regular, Menlo, monospace; background: #eff1f3; padding: .05em .3em;
       border-radius: 4px; }
footer { color: #6e7781; font-size: .85rem; margin-top: 2rem; }
"""


def _index_page(rows: list[str], facts: str) -> str:
    return (
        "<!doctype html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
        f"<title>adkit tutorials</title>\n<style>{INDEX_STYLE}</style>\n"
        + MATHJAX_CONFIG.replace("URL", MATHJAX_URL)
        + "\n</head>\n<body>\n<main>\n<h1>adkit tutorials</h1>\n"
        "<p class='lead'>Automatic differentiation you can see: each tutorial below was just run afresh "
        "by <code>make demo</code>, with its figures. Open them in order, or start with the tour.</p>\n"
        "<ol>\n" + "\n".join(rows) + "\n</ol>\n"
        f"<footer>{facts}</footer>\n</main>\n</body>\n</html>\n"
    )


def demo(out_dir: Path, run: bool = True) -> Path:
    """Execute every stored notebook into ``out_dir`` as HTML; return the index page.

    With ``run=False`` the pages show the stored outputs, not run (quick: the offline test uses it).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(MATHJAX, out_dir / "_static" / "mathjax", dirs_exist_ok=True)
    exporter = _exporter()
    rows = []
    for path in sorted(HERE.glob("[0-9][0-9]*_*.ipynb")):
        start = time.perf_counter()
        missing = _missing(path.stem) if run else None
        if missing:
            notebook = _stored_page(path, missing)
        elif run:
            notebook = execute(nbformat.read(path, as_version=4))
        else:
            notebook = nbformat.read(path, as_version=4)
        title, summary = _summary(notebook)
        body, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": title}})
        target = out_dir / (path.stem + ".html")
        target.write_text(body, encoding="utf-8")
        figures = sum(
            "image/png" in out.get("data", {})
            for cell in notebook.cells
            if cell.cell_type == "code"
            for out in cell.get("outputs", [])
        )
        seconds = time.perf_counter() - start
        how = f"stored results ({missing[1]} is not installed)" if missing else f"{seconds:5.1f} s"
        if run:
            print(f"{path.stem:32} {figures:3} figures  {how}  -> {target}", flush=True)
        number = path.stem.split("_")[0].lstrip("0") or "0"
        title = title.removeprefix(f"{number}. ")  # the number has a column of its own
        if missing:
            state = f"<span class='stored'>stored results: {html.escape(missing[1])} is not installed</span>"
        else:
            state = f"{figures} figures · ran in {seconds:.1f} s" if run else f"{figures} figures (stored)"
        rows.append(
            f"<li><a href='{path.stem}.html'><span class='number'>{number}</span>"
            f"<span class='title'>{_markdown_inline(title)}</span>"
            f"<span class='summary'>{_markdown_inline(summary)}</span>"
            f"<span class='facts'>{state}</span></a></li>"
        )
    versions = _versions()
    torch = "PyTorch " + _versions("torch")["torch"] if not _missing(next(iter(OPTIONAL))) else "no PyTorch"
    facts = (
        f"Built on {time.strftime('%Y-%m-%d')} with adkit {versions['adkit']}, NumPy {versions['numpy']}, "
        f"Python {versions['python']} and {torch}. The pages need no network: the formulas are typeset by "
        "the copy of MathJax 3 in <code>_static/mathjax</code> (Apache-2.0), and each widget is shown as "
        "its picture (run the notebooks with <code>make lab</code> to move the sliders)."
    )
    index = out_dir / "index.html"
    index.write_text(_index_page(rows, facts), encoding="utf-8")
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="tutorials to build (default: all)")
    parser.add_argument("--demo", metavar="OUT", help="execute the stored notebooks into OUT as HTML")
    args = parser.parse_args(argv)
    _quiet_environment()
    if args.demo:
        index = demo(Path(args.demo))
        print(f"index: {index.resolve()}")
        return 0
    for path in sources(args.names):
        start = time.perf_counter()
        target = build(path)
        print(f"built {target.relative_to(HERE.parent)} in {time.perf_counter() - start:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
