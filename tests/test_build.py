"""notebooks/build.py: what make demo does for a tutorial whose optional package is missing.

Tutorial 08 compares adkit with PyTorch. Without PyTorch, make demo shows the
stored notebook with a note (stored, when, with which versions) instead of a
page of "skipped", and build.py refuses to store the tutorial (its outputs
would only say PyTorch is missing).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "notebooks"))
import build  # noqa: E402

PYTORCH = "08_comparison_with_pytorch"
MISSING = ("torch", "PyTorch", "torch==2.13.0")


def test_the_stored_pytorch_tutorial_shows_pytorch_numbers_and_its_versions():
    notebook = nbformat.read(ROOT / "notebooks" / f"{PYTORCH}.ipynb", as_version=4)
    built = notebook.metadata["adkit"]["built_with"]
    assert built["torch"].startswith("2.13.0")
    text = "".join(
        out.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
    )
    assert "torch.autograd.grad: (5.5, 1.71633781454)" in text
    assert "is not installed" not in text


def test_without_pytorch_the_demo_page_is_the_stored_notebook_marked_as_stored():
    path = ROOT / "notebooks" / f"{PYTORCH}.ipynb"
    page = build._stored_page(path, MISSING)
    stored = nbformat.read(path, as_version=4)
    assert len(page.cells) == len(stored.cells) + 1
    note = page.cells[1]
    assert note.cell_type == "markdown"
    assert note.source.startswith("> **Stored results.** PyTorch is not installed")
    assert "pip install torch==2.13.0" in note.source
    assert f"torch {stored.metadata['adkit']['built_with']['torch']}" in note.source
    assert build._stored_on(path) in note.source and len(build._stored_on(path)) == 10  # YYYY-MM-DD
    assert [c.source for c in page.cells[2:]] == [c.source for c in stored.cells[1:]]


def test_building_the_pytorch_tutorial_without_pytorch_is_refused(monkeypatch):
    monkeypatch.setattr(build, "_missing", lambda stem: MISSING if stem == PYTORCH else None)
    with pytest.raises(SystemExit, match=r"pip install torch==2\.13\.0"):
        build.build(ROOT / "notebooks" / f"{PYTORCH}.py")


def test_a_missing_optional_package_is_seen(monkeypatch):
    monkeypatch.setitem(build.OPTIONAL, PYTORCH, ("no_such_module_adkit", "Nothing", "nothing==1"))
    assert build._missing(PYTORCH) == ("no_such_module_adkit", "Nothing", "nothing==1")
    assert build._missing("00_tour") is None
