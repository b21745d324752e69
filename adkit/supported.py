"""What adkit differentiates, read from the rule table and the NumPy bridge's tables.

Every NumPy ufunc, every NumPy function that NumPy hands to a traced value
(``np.*``, ``np.linalg.*``, ``np.fft.*``), every ndarray method and every
scipy.special ufunc is listed once: supported (with its derivative, the
conventions at its kinks and the orders it differentiates to) or refused (with
the reason). The documentation's page ``docs/supported.md`` is this text,
written by the docs build into ``docs/_generated/supported.md``;
``python -m adkit.supported`` prints it, ``python -m adkit.supported svd``
only the lines that mention ``svd``. Nothing here is maintained by hand but
the gotchas at the end: a rule added to the tables appears by itself.

>>> rows = {entry.name: entry for entry in entries()}
>>> rows["numpy.sin"].what
'Sine; d/dx sin x = cos x.'
>>> rows["numpy.linalg.eig"].supported, rows["numpy.linalg.eig"].what
(False, 'a non-symmetric matrix can have complex eigenvalues and eigenvectors, ...')
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np

from adkit import numpy_bridge, rules
from adkit.numpy_bridge import (
    CONSTANT_UFUNCS,
    FUNCTIONS,
    ORDER_LIMITS,
    REFUSALS,
    SPECIAL_UFUNCS,
    UFUNC_METHODS,
    UFUNCS,
    ArrayOps,
    MissingAttribute,
)

#: the NumPy namespaces whose functions NumPy hands to traced values (``__array_function__``)
NAMESPACES = (("", np), ("linalg.", np.linalg), ("fft.", np.fft))

MODES = "forward, reverse"


class Entry(NamedTuple):
    """One row of the page: a name, and what adkit does with it."""

    name: str  # "numpy.sin", "numpy.linalg.svd", "ndarray.sum", "scipy.special.erf"
    supported: bool
    what: str  # the derivative and its conventions, or the reason for the refusal
    order: str = ""  # how many times it differentiates ("any", or where higher orders stop)


def _summary(obj: Any) -> str:
    """The first paragraph of a docstring, on one line (a Primitive's ``doc``, a handler's)."""
    doc = inspect.cleandoc(getattr(obj, "__doc__", None) or "")
    return " ".join(doc.split("\n\n")[0].split()).replace("|", "\\|")


def _handler_summary(handler: Callable) -> str:
    """A handler's docstring, else that of the rule-table function of its name (``_swapaxes``)."""
    text = _summary(handler)
    if not text:
        text = _summary(getattr(rules, handler.__name__.lstrip("_"), None))
    return text


def dispatched_functions() -> dict[str, Callable]:
    """The public NumPy functions that hand a traced argument to adkit, by name (``linalg.svd``)."""
    found = {}
    for prefix, module in NAMESPACES:
        for name in dir(module):
            function = getattr(module, name)
            if not name.startswith("_") and hasattr(function, "_implementation"):
                found[prefix + name] = function
    for function in FUNCTIONS:  # also what adkit takes over some other way (np.array, if it does)
        module = getattr(function, "__module__", "") or ""
        prefix = next((p for p, m in NAMESPACES if p and module.startswith(m.__name__)), "")
        found.setdefault(prefix + function.__name__, function)
    return dict(sorted(found.items()))


def ufunc_entries() -> Iterator[Entry]:
    """NumPy's ufuncs: a rule, constant (computed on the values), or refused."""
    for ufunc in sorted({u for u in vars(np).values() if isinstance(u, np.ufunc)}, key=lambda u: u.__name__):
        name = f"numpy.{ufunc.__name__}"
        if ufunc in UFUNCS:
            yield Entry(name, True, _summary(UFUNCS[ufunc]), "any")
        elif ufunc in CONSTANT_UFUNCS:
            yield Entry(
                name,
                True,
                "piecewise constant, boolean or integer-valued: computed on the values, derivative 0",
                "any",
            )
        elif not any(set(loop.split("->")[0]) & set("efdg") for loop in ufunc.types):  # no real loop
            yield Entry(name, False, "it works on integers, booleans or dates only, not on real numbers")
        else:
            yield Entry(name, False, "no rule yet")
    for (method, ufunc), handler in UFUNC_METHODS.items():
        yield Entry(f"numpy.{ufunc.__name__}.{method}", True, _handler_summary(handler), "any")


def function_entries() -> Iterator[Entry]:
    """NumPy's functions: a handler in the bridge, or refused with the reason."""
    for name, function in dispatched_functions().items():
        handler = FUNCTIONS.get(function)
        if handler is None:
            yield Entry(f"numpy.{name}", False, REFUSALS.get(function, "no rule yet"))
        elif getattr(handler, "__wrapped__", None) is function:
            yield Entry(
                f"numpy.{name}",
                True,
                "constant (integers, booleans or shapes): NumPy's own, on the values",
                "any",
            )
        else:
            yield Entry(f"numpy.{name}", True, _handler_summary(handler), ORDER_LIMITS.get(function, "any"))


def method_entries() -> Iterator[Entry]:
    """ndarray's methods and attributes on a traced value."""
    for name in sorted(numpy_bridge.NDARRAY_NAMES):
        attribute = vars(ArrayOps).get(name)
        if attribute is None:
            continue
        if isinstance(attribute, MissingAttribute):
            try:  # the AttributeError a traced value raises says why
                getattr(ArrayOps, name)
            except AttributeError as error:
                yield Entry(f"ndarray.{name}", False, str(error).split(": ", 1)[1].replace("|", "\\|"))
        elif name in ("item", "tolist"):
            yield Entry(
                f"ndarray.{name}",
                False,
                "a Python number or list would lose the derivative: use adkit.primal(x) for the plain values",
            )
        else:
            function = getattr(np, name, None)
            text = _summary(attribute) or (_summary(FUNCTIONS[function]) if function in FUNCTIONS else "")
            yield Entry(f"ndarray.{name}", True, text or f"as numpy.{name}", "any")


def special_entries() -> Iterator[Entry]:
    """scipy.special's ufuncs (all of them when SciPy is installed, else those with rules)."""
    special = _scipy_special()
    rules_by_name = {name: op for name, op in SPECIAL_UFUNCS.items()}
    names = set(rules_by_name)
    if special is not None:
        names |= {n for n, u in vars(special).items() if isinstance(u, np.ufunc) and not n.startswith("_")}
    for name in sorted(names):
        op = rules_by_name.get(name)
        if op is not None:
            yield Entry(f"scipy.special.{name}", True, _summary(op), "any")
        else:
            yield Entry(f"scipy.special.{name}", False, "no rule yet")
    yield Entry(
        "scipy.special.logsumexp",
        False,
        "not a ufunc, so NumPy cannot hand it a traced value: call adkit.logsumexp, with the same parameters",
    )


def _scipy_special() -> Any:
    if "scipy.special" in sys.modules:
        return sys.modules["scipy.special"]
    try:
        import scipy.special
    except ImportError:
        return None
    return scipy.special


def entries() -> list[Entry]:
    return [*ufunc_entries(), *function_entries(), *method_entries(), *special_entries()]


def counts() -> dict[str, int]:
    """How many of each kind adkit supports (constants included) and refuses."""
    groups = {
        "numpy ufuncs": list(ufunc_entries()),
        "numpy functions": list(function_entries()),
        "ndarray methods": list(method_entries()),
        "scipy.special": list(special_entries()),
    }
    result = {}
    for group, rows in groups.items():
        result[group] = sum(row.supported for row in rows)
        result[f"{group} refused"] = sum(not row.supported for row in rows)
    return result


# -- the page ---------------------------------------------------------------------------------------------


def _table(rows: list[Entry], supported: bool) -> list[str]:
    if supported:
        lines = [
            "| function | modes | order | derivative, conventions, conditions |",
            "| --- | --- | --- | --- |",
        ]
        lines += [f"| `{row.name}` | {MODES} | {row.order} | {row.what} |" for row in rows]
    else:
        lines = ["| function | why |", "| --- | --- |"]
        lines += [f"| `{row.name}` | {row.what} |" for row in rows]
    return lines


GOTCHAS = """\
## Gotchas

adkit follows your function by handing NumPy traced values instead of arrays.
What leaves NumPy's protocols loses the derivative, so adkit refuses it with an
error rather than give a wrong answer:

* **Writing into an array.** `a = np.zeros(3); a[0] = x` stores a traced `x`
  in a plain array, and `x[i] = v` would change a traced value in place: both
  are refused (adkit's values are immutable). Build the array instead:
  `np.where(mask, v, x)`, `np.stack([...])`, `np.concatenate([...])`; in-place
  methods (`x.sort()`, `x.fill()`, `np.copyto`, `np.put`, `ufunc.at`) are refused too.
* **`math.sin(x)` and Python's `math`.** The `math` module converts its
  argument to a float, which a traced value refuses: write `np.sin(x)` (or
  `adkit.sin(x)`).
* **`float(x)`, `int(x)`, `x.item()`, `x.tolist()`.** They would return a plain
  number without its derivative, so they are refused; for the number itself
  (no derivative), use `adkit.primal(x)`.
* **Building an array from traced values.** {array}
* **Comparisons and `if`.** `x > 0` compares the values and gives plain
  booleans, so Python's control flow works and the derivative is that of the
  branch taken (a function with a jump is differentiated piece by piece).
* **SciPy beyond scipy.special's ufuncs.** Functions that convert their inputs
  with `np.asarray` (`scipy.special.logsumexp`, `scipy.linalg.*`,
  `scipy.optimize`) cannot see a traced value: use `adkit.logsumexp` and
  `np.linalg`.
* **Complex numbers.** adkit differentiates real functions: a complex input or a
  complex value made from traced ones (`np.linalg.eig` of a non-symmetric
  matrix, `np.fft`) is refused. Carry real and imaginary parts as two real arrays.
* **Singular and eigenvectors.** Their signs (and, for a full SVD or QR, the
  extra columns) are NumPy's choice; differentiate what does not depend on it
  (`u uᵀ`, `U diag(s) Vh`), and expect `NotDifferentiableError` where the
  vectors are not determined (repeated singular values or eigenvalues).
"""

_ARRAY_SUPPORTED = (
    "`np.array` and `np.asarray` of (nested) lists that mix traced values and numbers "
    "give traced arrays; `np.stack` and `np.concatenate` work too."
)
_ARRAY_REFUSED = (
    "`np.array([x, y])` of traced values is refused (NumPy would convert each to a "
    "float); write `np.stack([x, y])` (or `np.concatenate`) instead."
)


def gotchas() -> str:
    """The gotchas section; what it says about ``np.array`` follows what the bridge supports."""
    array = _ARRAY_SUPPORTED if np.array in FUNCTIONS or np.asarray in FUNCTIONS else _ARRAY_REFUSED
    return GOTCHAS.format(array=array)


def page() -> str:
    """The Markdown (MyST) of the page of what adkit supports."""
    number = counts()
    supported_total = sum(v for k, v in number.items() if not k.endswith("refused"))
    refused_total = sum(v for k, v in number.items() if k.endswith("refused"))
    lines = [
        f"adkit differentiates {supported_total} NumPy and SciPy functions, ufuncs and methods and refuses "
        f"{refused_total}, each with its reason: {number['numpy ufuncs']} of NumPy's ufuncs (and their "
        f"methods), {number['numpy functions']} NumPy functions, {number['ndarray methods']} ndarray "
        f"methods and attributes, {number['scipy.special']} of scipy.special's ufuncs.",
        "",
        "Every supported function differentiates in forward and reverse mode and in every nesting of "
        "them (both engines read one rule table; `tests/test_rules.py` checks each rule both ways and "
        "nested to second order with batched directions); *order* says how many times, where there is a "
        "limit. The text of each row comes from the rule table and the bridge's handlers; this page is "
        "written from them by the documentation's build, and `python -m adkit.supported [word]` prints "
        "it. For the parameters of each function (implemented, or refused by name), see the page on "
        "refusals.",
        "",
    ]
    groups = [
        ("NumPy ufuncs", list(ufunc_entries())),
        ("NumPy functions", list(function_entries())),
        ("ndarray methods and attributes", list(method_entries())),
        ("scipy.special", list(special_entries())),
    ]
    for title, rows in groups:
        lines += [f"## {title}", "", *_table([r for r in rows if r.supported], True), ""]
    lines += [
        "## Refused, and why",
        "",
        "What adkit does not differentiate (yet). A call with a traced argument raises an error that "
        "names the function and says what to do.",
        "",
    ]
    refused = [r for _, rows in groups for r in rows if not r.supported]
    other_special = [
        r.name.removeprefix("scipy.special.")
        for r in refused
        if r.name.startswith("scipy.special.") and r.what == "no rule yet"
    ]
    refused = [r for r in refused if r.what != "no rule yet" or not r.name.startswith("scipy.special.")]
    if other_special:
        refused.append(
            Entry(
                f"scipy.special (the other {len(other_special)} ufuncs)",
                False,
                "no rule yet: " + ", ".join(other_special),
            )
        )
    lines += [*_table(refused, False), "", gotchas()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """``python -m adkit.supported [word]``: the page, or the table rows that mention ``word``."""
    argv = sys.argv[1:] if argv is None else argv
    text = page()
    if argv:
        text = "\n".join(
            line for line in text.splitlines() if line.startswith("|") and argv[0].lower() in line.lower()
        )
    print(text)


if __name__ == "__main__":
    main()
