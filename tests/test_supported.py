"""The page of what adkit supports (issue 13, item 8): made from the tables, complete, linked from errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import adkit
from adkit import numpy_bridge, supported

ROOT = Path(__file__).resolve().parents[1]


def test_every_numpy_ufunc_function_and_method_is_on_the_page_once():
    names = [entry.name for entry in supported.entries()]
    assert len(names) == len(set(names))
    ufuncs = {f"numpy.{u.__name__}" for u in vars(np).values() if isinstance(u, np.ufunc)}
    functions = {f"numpy.{name}" for name in supported.dispatched_functions()}
    methods = {f"ndarray.{n}" for n in numpy_bridge.NDARRAY_NAMES if n in vars(numpy_bridge.ArrayOps)}
    assert ufuncs | functions | methods <= set(names)
    assert {"numpy.linalg.svd", "numpy.linalg.eig", "numpy.einsum", "numpy.fft.fft"} <= functions


def test_the_page_says_what_each_table_says():
    rows = {entry.name: entry for entry in supported.entries()}
    assert rows["numpy.sin"].supported and "cos" in rows["numpy.sin"].what
    assert rows["numpy.absolute"].what.endswith("0 at x = 0 by convention.")
    assert rows["numpy.greater"].supported and "derivative 0" in rows["numpy.greater"].what
    assert rows["numpy.linalg.svd"].supported and "distinct" in rows["numpy.linalg.svd"].order
    assert rows["numpy.linalg.det"].order.startswith("2 at every matrix")
    assert rows["numpy.argmax"].supported and "constant" in rows["numpy.argmax"].what
    assert not rows["numpy.linalg.eig"].supported and "complex" in rows["numpy.linalg.eig"].what
    assert not rows["numpy.copyto"].supported and "existing array" in rows["numpy.copyto"].what
    assert not rows["numpy.gcd"].supported and "integers" in rows["numpy.gcd"].what
    assert not rows["ndarray.sort"].supported and "in place" in rows["ndarray.sort"].what
    assert rows["ndarray.sum"].supported and rows["numpy.add.reduce"].supported
    logsumexp = rows["scipy.special.logsumexp"]
    assert not logsumexp.supported and "adkit.logsumexp" in logsumexp.what
    assert rows["scipy.special.erf"].supported and "exp(-x^2)" in rows["scipy.special.erf"].what


def test_the_page_follows_the_tables(monkeypatch):
    assert {e.name: e for e in supported.entries()}["numpy.sin"].supported
    monkeypatch.delitem(numpy_bridge.UFUNCS, np.sin)
    monkeypatch.delitem(numpy_bridge.FUNCTIONS, np.trace)
    rows = {e.name: e for e in supported.entries()}
    assert not rows["numpy.sin"].supported and not rows["numpy.trace"].supported


def test_the_counts_add_up():
    counts = supported.counts()
    assert sum(counts.values()) == len(supported.entries())
    assert counts["numpy functions"] == sum(e.supported for e in supported.function_entries())
    page = supported.page()
    assert f"{counts['numpy functions']} NumPy functions" in page
    assert f"{counts['scipy.special']} of scipy.special's ufuncs" in page


def test_the_page_is_markdown_tables_and_the_gotchas():
    page = supported.page()
    for section in (
        "## NumPy ufuncs",
        "## NumPy functions",
        "## ndarray methods and attributes",
        "## scipy.special",
        "## Refused, and why",
        "## Gotchas",
    ):
        assert section in page
    for line in page.splitlines():
        if line.startswith("| `"):  # a | inside a cell is escaped, so each row has its table's columns
            assert line.count("|") - line.count("\\|") - 1 in (2, 4), line
    assert "math.sin" in page and "float(x)" in page and "a[0] = x" in page


def test_the_gotcha_on_np_array_follows_what_the_bridge_does(monkeypatch):
    supported_now = np.array in numpy_bridge.FUNCTIONS
    assert ("np.array` and `np.asarray` of (nested) lists" in supported.gotchas()) == supported_now
    monkeypatch.setitem(numpy_bridge.FUNCTIONS, np.array, lambda *a, **k: None)
    assert "np.array` and `np.asarray` of (nested) lists" in supported.gotchas()


def test_python_m_adkit_supported_prints_the_page_or_matching_rows():
    out = subprocess.run(
        [sys.executable, "-m", "adkit.supported", "svd"], capture_output=True, text=True, check=True
    ).stdout
    lines = out.splitlines()
    assert lines and all("svd" in line.lower() for line in lines)
    assert any(line.startswith("| `numpy.linalg.svd` |") for line in lines)


def test_no_rule_errors_point_to_the_page(monkeypatch):
    x = adkit.Dual(np.ones(3), np.ones(3))
    assert (ROOT / "docs" / "supported.md").exists() and "docs/supported.md" in numpy_bridge.SUPPORTED
    monkeypatch.delitem(numpy_bridge.UFUNCS, np.sin)  # (as if they had no rules)
    monkeypatch.delitem(numpy_bridge.FUNCTIONS, np.trace)
    for call in (
        lambda: np.sin(x),
        lambda: np.trace(x[:, None] * x),
        lambda: np.linalg.eig(x[:, None] * x),
        lambda: np.add.reduceat(x, [0]),
    ):
        with pytest.raises(NotImplementedError, match=r"python -m adkit\.supported"):
            call()
    with pytest.raises(AttributeError, match=r"python -m adkit\.supported"):
        _ = x.compress  # (no rule yet)


def test_the_docs_page_includes_the_generated_text():
    page = (ROOT / "docs" / "supported.md").read_text(encoding="utf-8")
    assert "{include} _generated/supported.md" in page
    conf = (ROOT / "docs" / "conf.py").read_text(encoding="utf-8")
    assert 'GENERATED / "supported.md", supported.page()' in conf
    assert "supported" in (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    assert "python -m adkit.supported" in (ROOT / "README.md").read_text(encoding="utf-8")
