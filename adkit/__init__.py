"""adkit: automatic differentiation you can see, for NumPy code in Jupyter.

Where things are:

* ``rules.py``: the one table of derivative rules (every elementary operation);
* ``core.py``: primitives, levels and dispatch (no derivative formulas);
* ``forward.py``: forward mode on dual numbers (``Dual``);
* ``reverse.py``: reverse mode on a tape (``Var``, ``Tape``);
* ``numpy_bridge.py``: how ``np.sin``, ``@``, ``.sum()`` reach the rules;
* ``api.py``: the friendly front end (``diff``, ``grad``, ``jacobian``, ...);
* ``modes.py``: how ``mode="auto"`` chooses, and why;
* ``custom.py``: a user's own primitives; ``check.py``: ``check_grads``;
* ``staging.py`` and ``codegen.py``: ``compile``, staged programs as generated NumPy code;
* ``views/``: ``trace`` and ``graph``; ``compare.py``: ``compare_modes``;
  ``widgets.py``, ``numerical.py``, ``symbolic.py``: Jupyter views and the baselines;
* ``sparse.py`` (``jacobian(f, sparse=True)``), ``elimination.py`` (vertex
  elimination) and ``checkpointing.py`` (``checkpoint``): beyond the two pure modes.

``import adkit`` loads the engines and the front end only. The views, the
measurements, the widgets and the baselines (and with them networkx,
matplotlib, ipywidgets, IPython and sympy) are imported when one of their
names is first used: ``adkit.trace``, ``adkit.graph``, ``adkit.Graph``,
``adkit.Trace``, ``adkit.compare_modes``, ``adkit.numerical``,
``adkit.symbolic``, ``adkit.widgets``, ``adkit.sparse``, ``adkit.elimination``
(PEP 562; ``LAZY`` below says where each lives).

>>> import numpy as np
>>> import adkit
>>> adkit.grad(lambda x: np.sin(x) * x)(1.0)
1.3817732906760363
"""

import functools
import importlib
from typing import TYPE_CHECKING, Any

from adkit.api import (
    Derivative,
    derivative,
    diff,
    grad,
    hessian,
    hvp,
    jacobian,
    jvp,
    stop_gradient,
    value_and_grad,
    vjp,
)
from adkit.check import GradientCheckError, check_grads
from adkit.checkpointing import checkpoint
from adkit.codegen import Compiled, compile  # staged programs: generated NumPy code (NumPy only)
from adkit.core import EscapedTracerError, Primitive, primal
from adkit.custom import UserPrimitive, defjvp, defvjp, primitive
from adkit.forward import Dual
from adkit.modes import ModeChoice
from adkit.numpy_bridge import array
from adkit.reverse import FreedTapeError, Tape, Var, no_grad
from adkit.rules import (
    NotDifferentiableError,
    abs,
    absolute,
    add,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    arctanh,
    around,
    astype,
    broadcast_to,
    cbrt,
    ceil,
    cholesky,
    clip,
    concatenate,
    cond,
    copysign,
    cos,
    cosh,
    cross,
    cumprod,
    cumsum,
    deg2rad,
    det,
    diagonal,
    digamma,
    divide,
    dot,
    eigh,
    eigvalsh,
    einsum,
    erf,
    erfc,
    erfinv,
    exp,
    exp2,
    expand_dims,
    expit,
    expm1,
    floor,
    floor_divide,
    fmod,
    gamma,
    gammaln,
    getitem,
    heaviside,
    hypot,
    inner,
    inv,
    kron,
    log,
    log1p,
    log2,
    log10,
    log_expit,
    log_ndtr,
    logaddexp,
    logaddexp2,
    logit,
    logsumexp,
    lstsq,
    matmul,
    matrix_norm,
    matrix_power,
    matrix_trace,
    matvec,
    max,
    maximum,
    mean,
    median,
    min,
    minimum,
    mod,
    moveaxis,
    multi_dot,
    multiply,
    ndtr,
    ndtri,
    negative,
    norm,
    outer,
    partition,
    pinv,
    polygamma,
    power,
    prod,
    ptp,
    qr,
    quantile,
    rad2deg,
    ravel,
    reciprocal,
    remainder,
    repeat,
    reshape,
    rint,
    sigmoid,
    sign,
    sin,
    sinc,
    sinh,
    slogdet,
    softplus,
    solve,
    sort,
    sqrt,
    square,
    squeeze,
    stack,
    std,
    subtract,
    sum,
    svd,
    svdvals,
    swapaxes,
    tan,
    tanh,
    tensordot,
    transpose,
    trunc,
    var,
    vecdot,
    vecmat,
    vector_norm,
    where,
    xlog1py,
    xlogy,
)
from adkit.staging import Program, StagingError

__all__ = [
    "Compiled",
    "Derivative",
    "Dual",
    "EscapedTracerError",
    "FreedTapeError",
    "GradientCheckError",
    "Graph",
    "ModeChoice",
    "NotDifferentiableError",
    "Primitive",
    "Program",
    "StagingError",
    "Tape",
    "Trace",
    "UserPrimitive",
    "Var",
    "abs",
    "absolute",
    "add",
    "arccos",
    "arccosh",
    "arcsin",
    "arcsinh",
    "arctan",
    "arctan2",
    "arctanh",
    "around",
    "array",
    "astype",
    "broadcast_to",
    "cbrt",
    "ceil",
    "check_grads",
    "checkpoint",
    "cholesky",
    "clip",
    "compare_modes",
    "compile",
    "concatenate",
    "cond",
    "copysign",
    "cos",
    "cosh",
    "cross",
    "cumprod",
    "cumsum",
    "defjvp",
    "defvjp",
    "deg2rad",
    "derivative",
    "det",
    "diagonal",
    "diff",
    "digamma",
    "divide",
    "dot",
    "eigh",
    "eigvalsh",
    "einsum",
    "elimination",
    "erf",
    "erfc",
    "erfinv",
    "exp",
    "exp2",
    "expand_dims",
    "expit",
    "expm1",
    "floor",
    "floor_divide",
    "fmod",
    "gamma",
    "gammaln",
    "getitem",
    "grad",
    "graph",
    "heaviside",
    "hessian",
    "hvp",
    "hypot",
    "inner",
    "inv",
    "jacobian",
    "jvp",
    "kron",
    "log",
    "log1p",
    "log2",
    "log10",
    "log_expit",
    "log_ndtr",
    "logaddexp",
    "logaddexp2",
    "logit",
    "logsumexp",
    "lstsq",
    "matmul",
    "matrix_norm",
    "matrix_power",
    "matrix_trace",
    "matvec",
    "max",
    "maximum",
    "mean",
    "median",
    "min",
    "minimum",
    "mod",
    "moveaxis",
    "multi_dot",
    "multiply",
    "ndtr",
    "ndtri",
    "negative",
    "no_grad",
    "norm",
    "numerical",
    "outer",
    "partition",
    "pinv",
    "polygamma",
    "power",
    "primal",
    "primitive",
    "prod",
    "ptp",
    "qr",
    "quantile",
    "rad2deg",
    "ravel",
    "reciprocal",
    "remainder",
    "repeat",
    "reshape",
    "rint",
    "sigmoid",
    "sign",
    "sin",
    "sinc",
    "sinh",
    "slogdet",
    "softplus",
    "solve",
    "sort",
    "sparse",
    "sqrt",
    "square",
    "squeeze",
    "stack",
    "std",
    "stop_gradient",
    "subtract",
    "sum",
    "svd",
    "svdvals",
    "swapaxes",
    "symbolic",
    "tan",
    "tanh",
    "tensordot",
    "trace",
    "transpose",
    "trunc",
    "value_and_grad",
    "var",
    "vecdot",
    "vecmat",
    "vector_norm",
    "vjp",
    "where",
    "widgets",
    "xlog1py",
    "xlogy",
]

#: The public names imported when first used, and the module each lives in (adkit.numerical,
#: adkit.symbolic and adkit.widgets are modules of their own). Importing them here would load
#: networkx, matplotlib, ipywidgets and IPython with every ``import adkit``.
LAZY = {
    "Graph": "adkit.views",
    "Trace": "adkit.views",
    "graph": "adkit.views",
    "trace": "adkit.views",
    "compare_modes": "adkit.compare",
    "numerical": "adkit.numerical",
    "sparse": "adkit.sparse",
    "elimination": "adkit.elimination",
    "symbolic": "adkit.symbolic",
    "widgets": "adkit.widgets",
}

if TYPE_CHECKING:  # the same names for type checkers and IDEs, which do not run __getattr__
    from adkit import elimination, numerical, sparse, symbolic, widgets
    from adkit.compare import compare_modes
    from adkit.views import Graph, Trace, graph, trace


def __getattr__(name: str) -> Any:
    """The names of ``LAZY``, imported on first use; ``__version__`` read from the installed metadata."""
    if name in LAZY:
        module = importlib.import_module(LAZY[name])
        return module if module.__name__ == f"adkit.{name}" else getattr(module, name)
    if name == "__version__":
        return _version()
    raise AttributeError(f"module 'adkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | {"__version__"})


@functools.cache
def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # 20 ms: only when asked

    try:
        return version("adkit")
    except PackageNotFoundError:  # running from a source tree without installing
        return "0+unknown"
