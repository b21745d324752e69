"""adkit: automatic differentiation you can see, for NumPy code in Jupyter.

Where things are:

* ``rules.py``: the one table of derivative rules (every elementary operation);
* ``core.py``: primitives, levels and dispatch (no derivative formulas);
* ``forward.py``: forward mode on dual numbers (``Dual``);
* ``reverse.py``: reverse mode on a tape (``Var``, ``Tape``);
* ``numpy_bridge.py``: how ``np.sin``, ``@``, ``.sum()`` reach the rules;
* ``api.py``: the friendly front end (``diff``, ``grad``, ``jacobian``, ...);
* ``modes.py``: how ``mode="auto"`` chooses, and why;
* ``custom.py``: a user's own primitives; ``check.py``: ``check_grads``.

>>> import numpy as np
>>> import adkit
>>> adkit.grad(lambda x: np.sin(x) * x)(1.0)
1.3817732906760363
"""

from importlib.metadata import PackageNotFoundError, version

from adkit import numerical, symbolic, widgets  # the baselines and the Jupyter views, as modules
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
from adkit.compare import compare_modes
from adkit.core import EscapedTracerError, Primitive, primal
from adkit.custom import UserPrimitive, defjvp, defvjp, primitive
from adkit.forward import Dual
from adkit.modes import ModeChoice
from adkit.reverse import FreedTapeError, Tape, Var, no_grad
from adkit.rules import (
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
    clip,
    concatenate,
    copysign,
    cos,
    cosh,
    cumsum,
    det,
    diagonal,
    divide,
    dot,
    exp,
    expand_dims,
    expm1,
    floor,
    floor_divide,
    fmod,
    getitem,
    hypot,
    inner,
    inv,
    log,
    log1p,
    log2,
    log10,
    logaddexp,
    matmul,
    matrix_trace,
    max,
    maximum,
    mean,
    min,
    minimum,
    mod,
    moveaxis,
    multiply,
    negative,
    norm,
    outer,
    power,
    prod,
    ravel,
    reciprocal,
    remainder,
    repeat,
    reshape,
    rint,
    sigmoid,
    sign,
    sin,
    sinh,
    slogdet,
    softplus,
    solve,
    sqrt,
    square,
    squeeze,
    stack,
    std,
    subtract,
    sum,
    swapaxes,
    tan,
    tanh,
    transpose,
    trunc,
    var,
    where,
)

try:
    __version__ = version("adkit")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"

__all__ = [
    "Derivative",
    "Dual",
    "EscapedTracerError",
    "FreedTapeError",
    "GradientCheckError",
    "ModeChoice",
    "Primitive",
    "Tape",
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
    "astype",
    "broadcast_to",
    "cbrt",
    "ceil",
    "check_grads",
    "clip",
    "compare_modes",
    "concatenate",
    "copysign",
    "cos",
    "cosh",
    "cumsum",
    "defjvp",
    "defvjp",
    "derivative",
    "det",
    "diagonal",
    "diff",
    "divide",
    "dot",
    "exp",
    "expand_dims",
    "expm1",
    "floor",
    "floor_divide",
    "fmod",
    "getitem",
    "grad",
    "hessian",
    "hvp",
    "hypot",
    "inner",
    "inv",
    "jacobian",
    "jvp",
    "log",
    "log1p",
    "log2",
    "log10",
    "logaddexp",
    "matmul",
    "matrix_trace",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "mod",
    "moveaxis",
    "multiply",
    "negative",
    "no_grad",
    "norm",
    "numerical",
    "outer",
    "power",
    "primal",
    "primitive",
    "prod",
    "ravel",
    "reciprocal",
    "remainder",
    "repeat",
    "reshape",
    "rint",
    "sigmoid",
    "sign",
    "sin",
    "sinh",
    "slogdet",
    "softplus",
    "solve",
    "sqrt",
    "square",
    "squeeze",
    "stack",
    "std",
    "stop_gradient",
    "subtract",
    "sum",
    "swapaxes",
    "symbolic",
    "tan",
    "tanh",
    "transpose",
    "trunc",
    "value_and_grad",
    "var",
    "vjp",
    "where",
    "widgets",
]  # fmt: skip

# Staged programs: adkit.compile turns f, or any transformation of it, into generated NumPy code
# (adkit/staging.py records the program, adkit/codegen.py writes and caches the code).
# Seeing the computation: evaluation traces, graph drawings, sweeps to step through (adkit/views/).
from adkit.codegen import Compiled, compile
from adkit.staging import Program, StagingError
from adkit.views import Graph, Trace, graph, trace

__all__ += ["Graph", "Trace", "graph", "trace"]
__all__ += ["Compiled", "Program", "StagingError", "compile"]

