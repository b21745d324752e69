"""The stored tutorials follow the notebook conventions (nbval checks their outputs: see the Makefile).

For every ``notebooks/NN_name.ipynb``:

- its jupytext script ``NN_name.py`` exists and has the same cells (the
  notebook was rebuilt after the script last changed), and every script has
  its notebook;
- every code cell was executed, with no error and nothing on stderr;
- the first cell is a ``# Title`` (the docs and ``make demo``'s index use it),
  the first code cell starts with ``%matplotlib inline``;
- nbval's markers are cell tags (``nbval-ignore-output`` ...), never comment lines a learner
  reads first, and every cell that measures time carries ``nbval-ignore-output``;
- only adkit's public API is used (no ``adkit._x``, no imports from the
  engines' modules) and no AD machinery of the notebook's own (operator
  overloading), except in the notebook that builds a toy one on purpose;
  random numbers come from ``np.random.default_rng``, no cell ends in ``;``
  (nbval does not honour it), no SVG is stored, and each widget has a
  static picture in its cell or the next code cell;
- each tutorial states its learning objectives before its first code cell
  and ends with two to four exercises, each followed by a solution the
  learner can reveal (a collapsed cell) that asserts its answer, so a wrong
  solution fails nbval.

Each check is a function returning the problems it finds, so the last tests
can show that every check fails on a notebook that breaks its rule. The
examples of the docs' getting-started page (``>>>`` in ``pycon`` blocks) run
as doctests too, so the first thing a reader copies works.
"""

from __future__ import annotations

import doctest
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
DOCS_EXAMPLES = [ROOT / "docs" / "getting-started.md"]
# NN_name, and NNb_name for a tutorial between NN and NN + 1 (03b_build_it_yourself)
STORED = sorted(NOTEBOOKS.glob("[0-9][0-9]*_*.ipynb"))
SCRIPTS = sorted(NOTEBOOKS.glob("[0-9][0-9]*_*.py"))

WIDGET = "application/vnd.jupyter.widget-view+json"
# nbval's cell tags (its comment markers, "# NBVAL_IGNORE_OUTPUT" ..., would be a cell's first line)
IGNORE_OUTPUT = "nbval-ignore-output"
UNCHECKED = {IGNORE_OUTPUT, "nbval-skip"}
COMMENT_MARKER = re.compile(r"^\s*#\s*(NBVAL_[A-Z_]+|PYTEST_VALIDATE_IGNORE_OUTPUT)\b", re.MULTILINE)
# A cell that measures time prints or draws numbers that change from run to run: nbval must not compare it.
# (A ModeExplorer measures too, but its cell's text is the widget's repr: that one is checked.)
TIMING_CALL = re.compile(
    r"\b(timeit\.\w+|timeit|perf_counter|process_time|monotonic|compare_modes)\s*\(|%%?timeit\b"
)

# adkit's internals: the engines and the rule table are reached through the public API only.
INTERNAL_MODULES = ("core", "rules", "forward", "reverse", "numpy_bridge")
FORBIDDEN = [
    (re.compile(r"\badkit(\.\w+)*\._(?!_)\w*"), "a private name (adkit._x or adkit.module._x)"),
    (re.compile(r"\bfrom\s+adkit(\.\w+)*\s+import\s*\(?[^)\n]*\b_(?!_)\w*"), "a private name imported"),
    (re.compile(rf"\bfrom\s+adkit\.({'|'.join(INTERNAL_MODULES)})\b"), "an import from adkit's internals"),
    (re.compile(rf"\bimport\s+adkit\.({'|'.join(INTERNAL_MODULES)})\b"), "an import of adkit's internals"),
    (re.compile(rf"\badkit\.({'|'.join(INTERNAL_MODULES)})\."), "adkit's internals"),
]
LEGACY_RANDOM = re.compile(r"\bnp\.random\.(?!default_rng\b)\w+")

# Notebooks teach adkit and define no AD of their own: no class with arithmetic operators or NumPy's
# protocols. The exceptions, each with its reason:
OWN_MACHINERY = re.compile(r"\bdef\s+__(r?(add|sub|mul|truediv|pow)|neg|array_ufunc|array_function)__\s*\(")
BUILDS_ITS_OWN_AD = {
    "03b_build_it_yourself": "the learner builds a toy dual-number class and a toy tape, to see that "
    "adkit is the same idea (that is the point of the notebook); the rest of it uses the public API",
}

# Learning objectives before the first code cell; exercises at the end, each with a solution.
OBJECTIVES = re.compile(r"^#+\s*Learning objectives\b", re.MULTILINE)
EXERCISES = re.compile(r"^##\s*Exercises\b", re.MULTILINE)
EXERCISE = re.compile(r"^###\s*Exercise\s+(\d+)\b", re.MULTILINE)
SOLUTION_TAG = "hide-input"  # myst-nb (the docs) folds such a cell's source; JupyterLab uses source_hidden

# The running example of the tour, f(x1, x2) = ln x1 + x1 x2 - sin x2 at (2, 5).
TOUR_NUMBERS = {"y": "11.652", "dy/dx1": "5.5", "dy/dx2": "1.716"}


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def code_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def text_of(output: nbformat.NotebookNode) -> str:
    """The text an output shows: a stream's text, or the text/plain of a display or result."""
    if output.output_type == "stream":
        return output.text
    return str(output.get("data", {}).get("text/plain", ""))


def tags(cell: nbformat.NotebookNode) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def checked_text(notebook: nbformat.NotebookNode) -> str:
    """The text outputs nbval compares (cells not tagged ``nbval-ignore-output`` or ``nbval-skip``)."""
    texts = []
    for cell in code_cells(notebook):
        if tags(cell) & UNCHECKED:
            continue
        texts.extend(text_of(out) for out in cell.outputs)
    return "\n".join(texts)


# -- the checks: each returns the problems it finds ------------------------------------------


def pairing_problems(script: nbformat.NotebookNode, stored: nbformat.NotebookNode) -> list[str]:
    """Cells of the script and the stored notebook that differ (type or source)."""
    problems = []
    a = [(c.cell_type, c.source, sorted(tags(c))) for c in script.cells]
    b = [(c.cell_type, c.source, sorted(tags(c))) for c in stored.cells]
    if len(a) != len(b):
        problems.append(f"the script has {len(a)} cells, the notebook {len(b)}")
    for i, (left, right) in enumerate(zip(a, b)):
        if left[:2] != right[:2]:
            first = (left[1].strip().splitlines() or [""])[0]
            problems.append(f"cell {i} differs ({left[0]} in the script: {first[:60]!r})")
        elif left[2] != right[2]:
            problems.append(f"cell {i} has tags {left[2]} in the script, {right[2]} in the notebook")
    return problems


def marker_problems(notebook: nbformat.NotebookNode) -> list[str]:
    """nbval comment markers in cells, and timing cells whose output nbval would compare."""
    problems = []
    for i, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        for match in COMMENT_MARKER.finditer(cell.source):
            tag = match.group(1).lower().replace("_", "-")
            problems.append(f'cell {i} has the comment {match.group(1)}: use a cell tag, # %% tags=["{tag}"]')
        timing = TIMING_CALL.search(cell.source)
        if timing and not tags(cell) & UNCHECKED:
            problems.append(f'cell {i} measures time ({timing.group()}) without the tag "{IGNORE_OUTPUT}"')
    return problems


def execution_problems(notebook: nbformat.NotebookNode) -> list[str]:
    """Code cells never executed, errors, stderr output."""
    problems = []
    for i, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        if cell.get("execution_count") is None:
            problems.append(f"cell {i} was not executed")
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                problems.append(f"cell {i} raised {out.get('ename')}: {out.get('evalue', '')[:80]}")
            elif out.output_type == "stream" and out.name == "stderr":
                problems.append(f"cell {i} wrote to stderr: {out.text.strip()[:80]!r}")
    return problems


def convention_problems(notebook: nbformat.NotebookNode) -> list[str]:
    """The title, the first code cell, random numbers, trailing semicolons, SVG and widgets."""
    problems = []
    first = notebook.cells[0] if notebook.cells else None
    if first is None or first.cell_type != "markdown" or not first.source.startswith("# "):
        problems.append("the first cell is not a markdown cell with a '# Title'")
    cells = code_cells(notebook)
    if not cells or "%matplotlib inline" not in [line.strip() for line in cells[0].source.splitlines()]:
        problems.append("the first code cell has no '%matplotlib inline' line")
    for i, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        lines = [line.strip() for line in cell.source.splitlines()]
        lines = [line for line in lines if line and not line.startswith("#")]
        if lines and lines[-1].endswith(";"):
            problems.append(f"cell {i} ends in ';' (nbval does not honour it: use plt.show() or _ = ...)")
        for match in LEGACY_RANDOM.finditer(cell.source):
            problems.append(f"cell {i} uses {match.group()} (use np.random.default_rng(seed))")
        outputs = cell.get("outputs", [])
        if any("image/svg+xml" in out.get("data", {}) for out in outputs):
            problems.append(f"cell {i} stores SVG (it embeds a date: nbval cannot compare it)")
        if any(WIDGET in out.get("data", {}) for out in outputs):
            later = [c for c in notebook.cells[i + 1 :] if c.cell_type == "code"][:1]
            pictures = [
                out
                for c in [cell, *later]
                for out in c.get("outputs", [])
                if "image/png" in out.get("data", {})
            ]
            if not pictures:
                problems.append(f"cell {i} shows a widget with no static picture in it or the next code cell")
    return problems


def api_problems(notebook: nbformat.NotebookNode, own_machinery: bool = False) -> list[str]:
    """Uses of adkit's private names or internal modules, and AD machinery of the notebook's own.

    ``own_machinery=True`` allows operator overloading (the notebooks of ``BUILDS_ITS_OWN_AD``).
    """
    problems = []
    for i, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        for pattern, what in FORBIDDEN:
            for match in pattern.finditer(cell.source):
                problems.append(f"cell {i} uses {what}: {match.group()!r}")
        if not own_machinery:
            for match in OWN_MACHINERY.finditer(cell.source):
                problems.append(
                    f"cell {i} defines AD machinery of its own ({match.group()!r}): "
                    f"teach with adkit's public API"
                )
    return problems


def _is_solution(cell: nbformat.NotebookNode) -> bool:
    hidden = cell.metadata.get("jupyter", {}).get("source_hidden", False)
    return cell.cell_type == "code" and hidden and SOLUTION_TAG in cell.metadata.get("tags", [])


def exercise_problems(notebook: nbformat.NotebookNode) -> list[str]:
    """Learning objectives at the top; 2 to 4 numbered exercises, each followed by an asserting solution.

    A solution is the first code cell after its exercise's heading (before the next exercise): it must
    be collapsed (``jupyter.source_hidden`` and the tag ``hide-input``) and ``assert`` its answer.
    """
    problems = []
    cells = notebook.cells
    first_code = next((i for i, c in enumerate(cells) if c.cell_type == "code"), len(cells))
    if not any(c.cell_type == "markdown" and OBJECTIVES.search(c.source) for c in cells[:first_code]):
        problems.append("no 'Learning objectives' heading before the first code cell")
    start = next(
        (i for i, c in enumerate(cells) if c.cell_type == "markdown" and EXERCISES.search(c.source)), None
    )
    if start is None:
        return [*problems, "no '## Exercises' section"]
    headings = [
        (i, int(m.group(1)))
        for i, c in enumerate(cells)
        if i >= start and c.cell_type == "markdown"
        for m in EXERCISE.finditer(c.source)
    ]
    numbers = [n for _, n in headings]
    if not 2 <= len(numbers) <= 4:
        problems.append(f"{len(numbers)} exercises (### Exercise N) after '## Exercises': want 2 to 4")
    if numbers != list(range(1, len(numbers) + 1)):
        problems.append(f"the exercises are numbered {numbers}, not 1, 2, ...")
    for k, (i, n) in enumerate(headings):
        end = headings[k + 1][0] if k + 1 < len(headings) else len(cells)
        code = [c for c in cells[i + 1 : end] if c.cell_type == "code"]
        if not code:
            problems.append(f"exercise {n} has no solution cell")
        elif not _is_solution(code[0]):
            problems.append(
                f"exercise {n}'s solution is not collapsed (jupyter.source_hidden and the tag "
                f"{SOLUTION_TAG!r})"
            )
        elif not re.search(r"^\s*assert\b", code[0].source, re.MULTILINE):
            problems.append(f"exercise {n}'s solution asserts nothing (a wrong solution must fail nbval)")
    return problems


# -- the stored tutorials ------------------------------------------------------------------------


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


def test_every_script_has_its_notebook():
    missing = [s.name for s in SCRIPTS if not s.with_suffix(".ipynb").exists()]
    assert not missing, f"build them with `python notebooks/build.py NAME`: {missing}"


# make lab's file browser (notebooks/jupyter_lab_config.json): each tutorial once, as its notebook
LAB_CONFIG = NOTEBOOKS / "jupyter_lab_config.json"
BUILD_FILES = {"build.py", "nbval-sanitize.cfg", "jupyter_lab_config.json"}


def listed_in_jupyterlab(names: list[str], config: Path = LAB_CONFIG) -> list[str]:
    """The names JupyterLab's file browser lists under ``config``, by jupyter_server's own rule."""
    from jupyter_server.services.contents.filemanager import FileContentsManager

    hide_globs = json.loads(config.read_text(encoding="utf-8"))["ContentsManager"]["hide_globs"]
    manager = FileContentsManager(root_dir=str(NOTEBOOKS), hide_globs=hide_globs)
    return [name for name in names if manager.should_list(name)]


def test_jupyterlab_lists_each_tutorial_once():
    """The scripts and build files are hidden, every notebook and the rest shown: 03b_name included."""
    names = [p.name for p in NOTEBOOKS.iterdir() if p.is_file() and not p.name.startswith(".")]
    listed = set(listed_in_jupyterlab(names))
    scripts = {p.name for p in SCRIPTS}
    assert "03b_build_it_yourself.py" in scripts  # a tutorial between two numbers, NNb_name
    assert not scripts & listed, f"listed twice, as notebook and script: {sorted(scripts & listed)}"
    assert listed == set(names) - scripts - BUILD_FILES, f"hidden: {sorted(set(names) - listed)}"
    assert {p.name for p in STORED} | {"README.md"} <= listed
    # tutorials to come, and a learner's own files
    assert not listed_in_jupyterlab(["12_next.py", "12b_between.py", "99c_last.py"])
    shown = ["12b_between.ipynb", "notes.py", "my_notes.py", "scratch_1.py", "1_one_digit.py"]
    assert listed_in_jupyterlab(shown) == shown


@pytest.mark.parametrize("path", STORED, ids=_ids(STORED))
def test_notebook_matches_its_script(path):
    script = path.with_suffix(".py")
    assert script.exists(), f"{path.name} has no jupytext script {script.name} (the source of truth)"
    problems = pairing_problems(jupytext.read(script), read(path))
    assert not problems, (
        f"{path.name} is out of date with {script.name}: rebuild it with "
        f"`python notebooks/build.py {path.stem}`\n  " + "\n  ".join(problems)
    )


@pytest.mark.parametrize("path", STORED, ids=_ids(STORED))
def test_notebook_was_executed_cleanly(path):
    problems = execution_problems(read(path))
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("path", STORED, ids=_ids(STORED))
def test_notebook_follows_the_conventions(path):
    problems = convention_problems(read(path))
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("path", STORED, ids=_ids(STORED))
def test_notebook_marks_cells_for_nbval_with_tags(path):
    problems = marker_problems(read(path))
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("path", STORED, ids=_ids(STORED))
def test_notebook_uses_only_the_public_api(path):
    problems = api_problems(read(path), own_machinery=path.stem in BUILDS_ITS_OWN_AD)
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("name", sorted(BUILDS_ITS_OWN_AD))
def test_the_notebooks_allowed_their_own_machinery_do_build_it(name):
    # an exception nobody needs any more must go: the notebook exists and would fail the check without it
    path = NOTEBOOKS / f"{name}.ipynb"
    assert path in STORED, f"{name} is allowed its own AD machinery but is not a stored tutorial"
    assert api_problems(read(path)), f"{name} defines no AD machinery: remove it from BUILDS_ITS_OWN_AD"


@pytest.mark.parametrize("path", STORED, ids=_ids(STORED))
def test_notebook_has_objectives_and_exercises_with_solutions(path):
    problems = exercise_problems(read(path))
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


def test_the_tour_shows_the_worked_numbers_in_checked_cells():
    path = NOTEBOOKS / "00_tour.ipynb"
    if not path.exists():
        pytest.skip("notebooks/00_tour.ipynb is not built")
    text = checked_text(read(path))
    missing = {name: value for name, value in TOUR_NUMBERS.items() if value not in text}
    assert not missing, f"the tour's checked outputs lack the running example's numbers {missing}"


def where_next_problems(notebook: nbformat.NotebookNode, tutorials: list[str]) -> list[str]:
    """The tutorials (numbers such as "4" or "3b") the tour's "Where next" list does not name."""
    cells = [c for c in notebook.cells if c.cell_type == "markdown" and "## Where next" in c.source]
    if not cells:
        return ['no "## Where next" cell']
    text = cells[0].source
    named = set(re.findall(r"^\s*(\d+)\.\s", text, re.MULTILINE))  # items "4. Reverse mode"
    named |= set(re.findall(r"\b(\d+[a-z])\b", text))  # "3b" inside an item
    return [f"tutorial {number} is not listed" for number in tutorials if number not in named]


def _tutorial_numbers() -> list[str]:
    numbers = (p.stem.split("_")[0].lstrip("0") for p in SCRIPTS if not p.stem.startswith("00_"))
    return [number for number in numbers if number]


def test_the_tour_points_to_every_tutorial():
    problems = where_next_problems(jupytext.read(NOTEBOOKS / "00_tour.py"), _tutorial_numbers())
    assert {"3b", "10", "11"} <= set(_tutorial_numbers())
    assert not problems, "00_tour's Where next: " + ", ".join(problems)


# -- the checks can fail -------------------------------------------------------------------------


def _notebook(*cells: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return nb


def _code(source: str, *outputs: nbformat.NotebookNode, count: int | None = 1) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source, execution_count=count)
    cell.outputs = list(outputs)
    return cell


GOOD = _notebook(
    nbformat.v4.new_markdown_cell("# A tutorial"),
    _code("%matplotlib inline\nimport adkit\nrng = np.random.default_rng(0)"),
    _code("print(adkit.grad(f)(1.0))", nbformat.v4.new_output("stream", name="stdout", text="5.5\n")),
)


def _markdown(source: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_markdown_cell(source)


def _solution(source: str) -> nbformat.NotebookNode:
    cell = _code(source)
    cell.metadata.update({"tags": [SOLUTION_TAG], "jupyter": {"source_hidden": True}})
    return cell


WITH_EXERCISES = _notebook(
    _markdown("# A tutorial"),
    _markdown("## Learning objectives\n\n* one\n* two"),
    _code("%matplotlib inline\nimport adkit"),
    _markdown("## Exercises"),
    _markdown("### Exercise 1: a gradient\n\nFind it."),
    _solution("answer = adkit.grad(f)(1.0)\nassert answer == 5.5"),
    _markdown("### Exercise 2: a trace"),
    _solution("assert True"),
)


def test_a_good_notebook_passes_every_check():
    assert execution_problems(GOOD) == []
    assert convention_problems(GOOD) == []
    assert api_problems(GOOD) == []
    assert exercise_problems(WITH_EXERCISES) == []
    assert pairing_problems(GOOD, GOOD) == []
    assert "5.5" in checked_text(GOOD)


@pytest.mark.parametrize(
    "source",
    [
        "adkit._private_helper()",
        "adkit.api._normalize_argnums(0, 1, 'f')",
        "from adkit.api import _Inputs",
        "from adkit.compare import compare_modes, _fmt_time",
        "from adkit.core import bind",
        "from adkit.rules import sin_p",
        "import adkit.forward",
        "adkit.rules.sin_p",
        "adkit.reverse.Tape()",
        "from adkit.numpy_bridge import ArrayOps",
    ],
)
def test_private_api_is_caught(source):
    assert api_problems(_notebook(_code(source))), source


PUBLIC = [
    "adkit.__version__",
    "adkit.numerical.central_difference(f, 1.0)",
    "from adkit.widgets import ModeExplorer",
    "adkit.Tape()",
    "from adkit import grad, value_and_grad",
    "adkit.value_and_grad(f)",
]


@pytest.mark.parametrize("source", PUBLIC)
def test_public_api_is_allowed(source):
    assert api_problems(_notebook(_code(source))) == [], source


@pytest.mark.parametrize(
    "source",
    [
        "class D:\n    def __mul__(self, other):\n        pass",
        "    def __rtruediv__ (self, o): ...",
        "def __array_ufunc__(self, *a):",
    ],
)
def test_own_machinery_is_caught_unless_allowed(source):
    assert api_problems(_notebook(_code(source))), source
    assert api_problems(_notebook(_code(source)), own_machinery=True) == [], source


def _without(notebook: nbformat.NotebookNode, index: int) -> nbformat.NotebookNode:
    return _notebook(*(c for i, c in enumerate(notebook.cells) if i != index))


def test_missing_objectives_exercises_and_solutions_are_caught():
    cells = WITH_EXERCISES.cells
    visible = _code("assert True")
    no_assert = _solution("print(adkit.grad(f)(1.0))")
    five = [c for k in range(1, 6) for c in (_markdown(f"### Exercise {k}"), cells[5])]
    cases = {
        "no 'Learning objectives'": _without(WITH_EXERCISES, 1),
        "no '## Exercises'": _without(WITH_EXERCISES, 3),
        "1 exercises": _notebook(*cells[:6]),
        "numbered [1, 3]": _notebook(*cells[:6], _markdown("### Exercise 3"), cells[7]),
        "exercise 2 has no solution cell": _notebook(*cells[:7]),
        "exercise 2's solution is not collapsed": _notebook(*cells[:7], visible),
        "exercise 2's solution asserts nothing": _notebook(*cells[:7], no_assert),
        "5 exercises": _notebook(*cells[:4], *five),
    }
    for expected, notebook in cases.items():
        problems = "\n".join(exercise_problems(notebook))
        assert expected in problems, (expected, problems)


def test_unexecuted_cells_errors_and_stderr_are_caught():
    error = nbformat.v4.new_output("error", ename="ValueError", evalue="boom", traceback=[])
    stderr = nbformat.v4.new_output("stream", name="stderr", text="UserWarning: careful\n")
    nb = _notebook(_code("x = 1", count=None), _code("f()", error), _code("g()", stderr))
    problems = execution_problems(nb)
    assert [p.split()[2] for p in problems] == ["was", "raised", "wrote"]


def test_broken_conventions_are_caught():
    svg = nbformat.v4.new_output("display_data", data={"image/svg+xml": "<svg/>", "text/plain": "<Figure>"})
    widget = nbformat.v4.new_output("display_data", data={WIDGET: {"model_id": "0" * 32}, "text/plain": "W"})
    nb = _notebook(
        nbformat.v4.new_markdown_cell("Some text, no title"),
        _code("import adkit"),
        _code("plt.plot([1, 2]);"),
        _code("np.random.seed(0)\nx = np.random.rand(3)"),
        _code("fig", svg),
        _code("explorer", widget),
        _code("print(1)"),
    )
    problems = "\n".join(convention_problems(nb))
    expected_problems = [
        "'# Title'",
        "%matplotlib inline",
        "ends in ';'",
        "np.random.seed",
        "np.random.rand",
        "SVG",
        "no static picture",
    ]
    for expected in expected_problems:
        assert expected in problems, expected


def test_a_stale_notebook_is_caught():
    edited = _notebook(*GOOD.cells[:2], _code("print(adkit.grad(f)(2.0))"))
    expected = "cell 2 differs (code in the script: 'print(adkit.grad(f)(2.0))')"
    assert pairing_problems(edited, GOOD) == [expected]
    assert pairing_problems(_notebook(*GOOD.cells[:2]), GOOD)[0] == "the script has 2 cells, the notebook 3"


def _tagged(cell: nbformat.NotebookNode, *names: str) -> nbformat.NotebookNode:
    cell.metadata["tags"] = list(names)
    return cell


def test_numbers_in_ignored_cells_do_not_count():
    stdout = nbformat.v4.new_output("stream", name="stdout", text="11.652\n")
    ignored = _tagged(_code("print(y)", stdout), IGNORE_OUTPUT)
    assert "11.652" not in checked_text(_notebook(ignored))
    assert "11.652" in checked_text(_notebook(_code("print(y)", stdout)))


def test_comment_markers_and_untagged_timing_cells_are_caught():
    nb = _notebook(
        _code("# NBVAL_IGNORE_OUTPUT\nprint(1)"),
        _code("t = timeit.repeat(f, number=1)"),
        _code("start = time.perf_counter()"),
        _code("c = adkit.compare_modes('dense', ns=[1], ms=[1])"),
        _code("%timeit f(1.0)"),
        _tagged(_code("t = timeit.timeit(f, number=1)"), IGNORE_OUTPUT),
        _code("import timeit"),
    )
    problems = marker_problems(nb)
    assert [p.split()[1] for p in problems] == ["0", "1", "2", "3", "4"], problems
    assert 'tags=["nbval-ignore-output"]' in problems[0]
    assert marker_problems(_notebook(_code("explorer = adkit.widgets.ModeExplorer()"))) == []


def test_a_tag_lost_between_script_and_notebook_is_caught():
    untagged = _notebook(*GOOD.cells[:2], _code(GOOD.cells[2].source))
    tagged = _notebook(*GOOD.cells[:2], _tagged(_code(GOOD.cells[2].source), IGNORE_OUTPUT))
    expected = "cell 2 has tags ['nbval-ignore-output'] in the script, [] in the notebook"
    assert pairing_problems(tagged, untagged) == [expected]


def test_nbval_honours_the_ignore_output_tag(tmp_path):
    """A cell whose stored output differs from what it prints passes nbval only when it carries the tag."""
    stale = nbformat.v4.new_output("stream", name="stdout", text="stored\n")
    for name, cell in [
        ("tagged", _tagged(_code("print('fresh')", stale), IGNORE_OUTPUT)),
        ("untagged", _code("print('fresh')", stale)),
    ]:
        nb = _notebook(cell)
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, tmp_path / f"{name}.ipynb")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--nbval",
            "--nbval-current-env",
            "-o",
            "addopts=",
            "-o",
            "filterwarnings=",
            "tagged.ipynb",
            "untagged.ipynb",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "1 failed, 1 passed" in run.stdout, run.stdout[-2000:]
    assert "untagged.ipynb::Cell 0 FAILED" in run.stdout or "FAILED untagged.ipynb::Cell 0" in run.stdout


# -- the docs' examples --------------------------------------------------------------------------

PYCON = re.compile(r"^```pycon\n(.*?)^```", re.DOTALL | re.MULTILINE)


def pycon_blocks(text: str) -> list[str]:
    """The ``pycon`` code blocks of a Markdown page."""
    return PYCON.findall(text)


@pytest.mark.parametrize("page", DOCS_EXAMPLES, ids=[p.name for p in DOCS_EXAMPLES])
def test_docs_examples_run_as_shown(page):
    blocks = pycon_blocks(page.read_text(encoding="utf-8"))
    assert blocks, f"{page.name} has no pycon examples"
    # one doctest over every block: later blocks use the names of earlier ones, as a reader would
    test = doctest.DocTestParser().get_doctest("\n".join(blocks), {}, page.name, str(page), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0 and result.failed == 0, f"{result.failed} example(s) of {page.name} failed"


def test_a_wrong_docs_example_is_caught():
    page = "```pycon\n>>> 1 + 1\n3\n```\n"
    test = doctest.DocTestParser().get_doctest(pycon_blocks(page)[0], {}, "wrong", "wrong.md", 0)
    runner = doctest.DocTestRunner()
    runner.run(test, out=lambda _: None)
    assert runner.summarize(verbose=False).failed == 1


# -- opening and saving a tutorial in JupyterLab changes nothing -----------------------------------


def _resave_through_jupytext(root: Path, name: str, kernelspec: dict) -> None:
    """Open ``name`` and save it back as JupyterLab does: through jupytext's contents manager (which also
    writes the paired file), after the kernel's start has copied its kernelspec into the metadata."""
    import asyncio

    from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
    from jupytext.async_contentsmanager import build_async_jupytext_contents_manager_class

    manager = build_async_jupytext_contents_manager_class(AsyncLargeFileManager)(root_dir=str(root))

    async def open_and_save() -> None:
        model = await manager.get(name, content=True, type="notebook")
        notebook = model["content"]
        notebook.metadata["kernelspec"] = dict(kernelspec)
        await manager.save({"type": "notebook", "format": "json", "content": notebook}, name)

    asyncio.run(open_and_save())


def _python3_kernelspec() -> dict:
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    return {"display_name": spec.display_name, "language": spec.language, "name": "python3"}


@pytest.mark.parametrize("suffix", [".ipynb", ".py"])
@pytest.mark.parametrize("path", STORED, ids=_ids(STORED))
@pytest.mark.parametrize("newer", [".ipynb", ".py"])
def test_saving_a_tutorial_unchanged_changes_no_file(path, suffix, newer, tmp_path):
    """Opening the notebook (or its script, as a notebook) and saving it leaves both files as stored.

    Either file may be the newer one (a checkout writes them in any order); jupytext refuses to open
    a pair whose newer file differs from the other, and JupyterLab then starts no kernel.
    """
    for pair in (path, path.with_suffix(".py")):
        (tmp_path / pair.name).write_bytes(pair.read_bytes())
    later = time.time() + 5
    os.utime(tmp_path / (path.stem + newer), (later, later))
    _resave_through_jupytext(tmp_path, path.stem + suffix, _python3_kernelspec())
    changed = [
        p.name for p in (path, path.with_suffix(".py")) if (tmp_path / p.name).read_bytes() != p.read_bytes()
    ]
    assert not changed, f"saving {path.stem + suffix} unchanged rewrote {changed}: see notebooks/build.py"


def test_a_notebook_saved_with_other_metadata_is_caught(tmp_path):
    path = NOTEBOOKS / "01_why_ad.ipynb"
    for pair in (path, path.with_suffix(".py")):
        (tmp_path / pair.name).write_bytes(pair.read_bytes())
    _resave_through_jupytext(
        tmp_path, path.name, {"display_name": "Python 3", "language": "python", "name": "python3"}
    )
    assert (tmp_path / path.name).read_bytes() != path.read_bytes()
    assert "display_name: Python 3\n" in (tmp_path / "01_why_ad.py").read_text(encoding="utf-8")
