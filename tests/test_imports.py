"""How adkit's modules import each other: quickly, without cycles, and only through public names.

- ``import adkit`` loads the engines and the front end, not the Jupyter
  stack (IPython, ipywidgets), networkx, matplotlib or sympy: those come with
  the first use of a name that needs them (PEP 562, ``adkit.LAZY``);
- every module imports alone in a fresh interpreter;
- the graph of imports between adkit's modules, read from the source with
  ``ast`` (at module level and inside functions; not under ``if TYPE_CHECKING:``,
  which never runs), has no cycle;
- no module uses another module's private name (``from adkit.x import _y``,
  ``x._y``, or an attribute ``obj._y`` that only another module defines).

The known exceptions are in the engine's files and are issue 12's to remove:
each is listed with where it is, and the tests fail when one is gone, so
that its entry is removed too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import adkit

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "adkit"
HEAVY = ("IPython", "ipywidgets", "networkx", "matplotlib", "sympy")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def fresh_python(code: str) -> str:
    """What ``code`` prints, run in a new interpreter (nothing imported yet) from the repository root."""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


# -- import adkit is quick: nothing heavy until it is used ----------------------------------------


def test_import_adkit_loads_no_heavy_module():
    code = "import sys, adkit; print(' '.join(sorted(sys.modules)))"
    loaded = set(fresh_python(code).split())
    assert [name for name in HEAVY if name in loaded] == []
    assert not {"adkit.views", "adkit.compare", "adkit.widgets", "adkit.symbolic"} & loaded
    assert "importlib.metadata" not in loaded  # adkit.__version__ reads it when first asked


def test_the_trace_loads_no_jupyter_stack_and_the_command_line_no_views():
    trace = fresh_python("import sys, adkit; adkit.trace(lambda x: x * x, 3.0); print(' '.join(sys.modules))")
    assert not {"IPython", "ipywidgets", "networkx", "matplotlib"} & set(trace.split())
    command = fresh_python(
        "import contextlib, io, sys\n"
        "from adkit.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['diff', 'x**2', '--at', 'x=3'])\n"
        "print(' '.join(sys.modules))"
    )
    assert not {"adkit.views", "importlib.metadata", *HEAVY} & set(command.split())


@pytest.mark.parametrize("name", sorted(adkit.LAZY))
def test_lazy_names_are_the_objects_of_their_modules(name):
    value = getattr(adkit, name)
    module = sys.modules[adkit.LAZY[name]]
    assert value is (module if module.__name__ == f"adkit.{name}" else getattr(module, name))
    assert name in adkit.__all__ and name in dir(adkit)


def test_every_public_name_is_in_dir_and_an_unknown_one_is_refused():
    assert set(adkit.__all__) <= set(dir(adkit))
    assert "__version__" in dir(adkit) and adkit.__version__
    with pytest.raises(AttributeError, match="module 'adkit' has no attribute 'no_such_name'"):
        adkit.no_such_name  # noqa: B018
    assert not hasattr(adkit, "no_such_name")


def test_the_lazy_names_are_declared_for_type_checkers_too():
    """Each name of adkit.LAZY is imported under ``if TYPE_CHECKING:`` in adkit/__init__.py: IDEs read it."""
    tree = ast.parse(MODULES["adkit"].read_text(encoding="utf-8"))
    declared = {
        alias.asname or alias.name
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and _is_type_checking(block)
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert declared == set(adkit.LAZY)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_imports_alone(name):
    code = f"import importlib; print(importlib.import_module({name!r}).__name__)"
    assert fresh_python(code).strip() == name


# -- the import graph has no cycle ------------------------------------------------------------------

#: Imports that close a cycle, each with where it is. Issue 12: core.py imports rules.py inside
#: _ops() for the batch helpers (align_batched, fit_tangent, unbroadcast ...), which are rule-side
#: code; they move to the rules side and this entry goes.
KNOWN_CYCLE_EDGES: set[tuple[str, str]] = set()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that runs: at module level and in functions, not under TYPE_CHECKING."""
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, ast.If) and _is_type_checking(child):
            yield from (node for branch in child.orelse for node in _imports_of(branch))
            continue
        yield from _imports_of(child)


def _imports_of(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    else:
        yield from _imports(node)


def imported_modules(name: str) -> set[str]:
    """The adkit modules that ``name`` imports (``from adkit.views import steps``: adkit.views.steps)."""
    targets = set()
    for node in _imports(ast.parse(MODULES[name].read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names if alias.name in MODULES}
        elif node.level == 0 and node.module in MODULES:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                targets.add(submodule if submodule in MODULES else node.module)
    if name == "adkit":  # the names it imports on first use, by the module names in adkit.LAZY
        targets |= set(adkit.LAZY.values())
    return targets - {name}


def import_graph() -> dict[str, set[str]]:
    return {name: imported_modules(name) for name in MODULES}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    for source, target in KNOWN_CYCLE_EDGES:
        assert target in graph[source], f"{source} no longer imports {target}: take it off KNOWN_CYCLE_EDGES"
        graph[source] = graph[source] - {target}
    assert cycles(graph) == []
    for source, target in KNOWN_CYCLE_EDGES:
        assert cycles(_with(graph, source, target)), f"{source} -> {target} closes no cycle: take it off"


def _with(graph: dict[str, set[str]], source: str, target: str) -> dict[str, set[str]]:
    return {**graph, source: graph[source] | {target}}


def test_the_cycle_check_can_fail():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    graph = import_graph()
    assert cycles(_with(graph, "adkit.views.record", "adkit.views.graph"))  # record < ... < graph
    assert {"adkit.views.scene", "adkit.views.trace"} <= graph["adkit.views.graph"]


# -- no module uses another module's private names ---------------------------------------------------

#: Private names of other modules used by the engine's files, each as (module, where it reaches).
#: Issue 12 makes each public or moves it; the test fails when an entry is no longer used.
KNOWN_REACH_INS: set[tuple[str, str]] = set()


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _own_private_names(tree: ast.AST) -> set[str]:
    """The private names a module defines: functions, classes, globals, ``self._x`` and ``__slots__``."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__slots__" for t in node.targets
        ):
            names |= {e.value for e in ast.walk(node.value) if isinstance(e, ast.Constant)}
    return {name for name in names if isinstance(name, str) and _private(name)}


def reach_ins(path: Path, own: set[str], defined_elsewhere: set[str]) -> set[str]:
    """Where the file at ``path`` uses another module's private name: ``adkit.x._y``, or ``._y``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules: dict[str, str] = {}  # local name -> the adkit module it is bound to
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES:  # import adkit.x as y: y is adkit.x; import adkit.x: adkit is adkit
                    bound = alias.name if alias.asname else "adkit"
                    modules[alias.asname or "adkit"] = bound
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in MODULES:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                if submodule in MODULES:
                    modules[alias.asname or alias.name] = submodule
                elif _private(alias.name):
                    found.add(f"{node.module}.{alias.name}")

    def module_of(node: ast.expr) -> str | None:
        if isinstance(node, ast.Name):
            return modules.get(node.id)
        if isinstance(node, ast.Attribute):
            base = module_of(node.value)
            if base is not None and f"{base}.{node.attr}" in MODULES:
                return f"{base}.{node.attr}"
        return None

    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and _private(node.attr)):
            continue
        target = module_of(node.value)
        if target is not None:
            found.add(f"{target}.{node.attr}")
        elif (
            node.attr not in own
            and node.attr in defined_elsewhere
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
        ):
            found.add(f".{node.attr}")
    return found


def all_reach_ins() -> set[tuple[str, str]]:
    own = {
        name: _own_private_names(ast.parse(path.read_text(encoding="utf-8")))
        for name, path in MODULES.items()
    }
    found = set()
    for name, path in MODULES.items():
        elsewhere = set().union(*(names for other, names in own.items() if other != name))
        found |= {
            (name, where)
            for where in reach_ins(path, own[name], elsewhere)
            if not where.startswith(f"{name}.") or where.count(".") > name.count(".") + 1
        }
    return found


def test_no_module_uses_another_modules_private_names():
    found = all_reach_ins()
    assert found - KNOWN_REACH_INS == set()
    assert KNOWN_REACH_INS - found == set(), "no longer used: remove these from KNOWN_REACH_INS"


def test_no_test_imports_a_private_name():
    found = set()
    for path in sorted((ROOT / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "adkit":
                found |= {f"{path.name}: {node.module}.{a.name}" for a in node.names if _private(a.name)}
    assert found == set()


def test_the_private_name_check_can_fail(tmp_path):
    source = tmp_path / "reach.py"
    source.write_text(
        "from adkit.views.scene import _box_size\nfrom adkit import rules\n"
        "rules._axes(1)\nimport adkit.views.record\nadkit.views.record._index_text(0)\n"
        "def f(var, self):\n    return var._tape, self._tape, var._mine\n"
        "_mine = 1\n",
        encoding="utf-8",
    )
    found = reach_ins(source, {"_mine"}, {"_tape", "_mine"})
    assert found == {
        "adkit.views.scene._box_size",
        "adkit.rules._axes",
        "adkit.views.record._index_text",
        "._tape",
    }
