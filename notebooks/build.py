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


def _normalize(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    notebook.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    if not _has_widgets(notebook):
        notebook.metadata.pop("widgets", None)
    seen: dict[str, int] = {}
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        # jupytext gives every cell a random id: derive it from the cell instead, so that a rebuild
        # changes the ids of edited cells only
        digest = hashlib.sha1(f"{cell.cell_type}\n{cell.source}".encode()).hexdigest()[:8]
        seen[digest] = seen.get(digest, 0) + 1
        cell.id = digest if seen[digest] == 1 else f"{digest}-{seen[digest]}"
    return notebook


def _has_widgets(notebook: nbformat.NotebookNode) -> bool:
    return any(
        "application/vnd.jupyter.widget-view+json" in out.get("data", {})
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
    )


def build(path: Path) -> Path:
    """Execute ``NN_name.py`` and store it as ``NN_name.ipynb`` with outputs."""
    notebook = jupytext.read(path)
    notebook = _normalize(execute(notebook))
    target = path.with_suffix(".ipynb")
    jupytext.write(notebook, target, fmt="ipynb")
    return target


def demo(out_dir: Path) -> Path:
    """Execute every stored notebook into ``out_dir`` as HTML; return the index page."""
    from nbconvert import HTMLExporter

    out_dir.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter(embed_images=True)
    rows = []
    for path in sorted(HERE.glob("[0-9][0-9]*_*.ipynb")):
        start = time.perf_counter()
        notebook = execute(nbformat.read(path, as_version=4))
        body, _ = exporter.from_notebook_node(notebook)
        target = out_dir / (path.stem + ".html")
        target.write_text(body, encoding="utf-8")
        figures = sum(
            "image/png" in out.get("data", {})
            for cell in notebook.cells
            if cell.cell_type == "code"
            for out in cell.get("outputs", [])
        )
        seconds = time.perf_counter() - start
        print(f"{path.stem:32} {figures:3} figures  {seconds:5.1f} s  -> {target}", flush=True)
        markdown = (c.source for c in notebook.cells if c.cell_type == "markdown" and c.source.strip())
        title = next(markdown, path.stem).lstrip("# ").splitlines()[0]
        rows.append(f'<li><a href="{path.stem}.html">{html.escape(title)}</a></li>')
    index = out_dir / "index.html"
    index.write_text(
        "<!doctype html><meta charset='utf-8'><title>adkit tutorials</title>"
        "<h1>adkit tutorials</h1><ol>" + "".join(rows) + "</ol>",
        encoding="utf-8",
    )
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
