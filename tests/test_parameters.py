"""The parameter audit: every NumPy parameter adkit accepts is implemented or refused by name, never dropped.

It walks every NumPy function adkit accepts (``numpy_bridge.FUNCTIONS``),
every ndarray method ``ArrayOps`` defines, the ufunc keywords and the ufunc
methods adkit differentiates, reads NumPy's own parameters (its signature, or
the signature line of its docstring for C methods), and fails unless each
parameter has

* an example in ``IMPLEMENTED`` that sets it, whose value matches NumPy's
  and whose forward and reverse Jacobians match central differences of
  *NumPy's own function* (not adkit's), or
* an example in ``REFUSED`` that sets it and raises an error naming it.

A spy checks that each example really sets its parameter to a non-default
value. A handler added to ``FUNCTIONS`` (or a method added to ``ArrayOps``)
without examples fails here; so does a handler that takes ``**kwargs`` NumPy
does not have, or whose parameter names or defaults differ from NumPy's.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import adkit
from adkit import numpy_bridge, reverse
from adkit.core import Box
from adkit.numpy_bridge import FUNCTIONS, UFUNC_METHODS, ArrayOps, MissingAttribute, UnsupportedParameterError

rng = np.random.default_rng(20241)
X = rng.normal(size=(3, 4))
Y = rng.normal(size=(3, 4))
V = rng.normal(size=4)
W = rng.normal(size=3)
S = rng.normal(size=(3, 3)) + 3 * np.eye(3)
CUBE = rng.normal(size=(2, 3, 4))
MASK = np.array([[True, False, True, True], [False, True, True, False], [True, True, False, True]])
ROWS = np.array([True, False, True])
FORTRAN = np.asfortranarray(rng.normal(size=(3, 4)))
STRIDED = rng.normal(size=(4, 6, 5)).transpose(2, 0, 1)[:, ::2, 1:]  # neither C- nor F-contiguous

UFUNC_CALL = "ufunc()"  # the keywords of a ufunc call, read from np.add's and np.matmul's docstrings


@dataclass(frozen=True)
class Example:
    """``fn(*args)`` written with NumPy, setting ``params`` of ``target``."""

    target: Any  # a NumPy function, "ndarray.<method>", UFUNC_CALL, or ("reduce", np.add)-like
    params: tuple[str, ...]
    fn: Callable[..., Any]
    args: tuple[Any, ...]

    def __repr__(self) -> str:
        return f"{_target_name(self.target)}:{','.join(self.params)}"


def _target_name(target: Any) -> str:
    if isinstance(target, tuple):
        return f"{target[1].__name__}.{target[0]}"
    if isinstance(target, str):
        return target
    return getattr(target, "__name__", repr(target))


def ex(target: Any, params: str, fn: Callable, *args: Any) -> Example:
    return Example(target, tuple(params.split()), fn, args)


# -- what each NumPy function, method and keyword does in adkit: the examples ---------------------

IMPLEMENTED = [
    # reductions
    ex(np.sum, "a", lambda a: np.sum(a), X),
    ex(np.sum, "axis keepdims", lambda a: np.sum(a, axis=1, keepdims=True), X),
    ex(np.sum, "dtype", lambda a: np.sum(a, 0, np.float64), X),
    ex(np.sum, "initial", lambda a: np.sum(a, axis=0, initial=2.5), X),
    ex(np.sum, "where", lambda a: np.sum(a, axis=1, where=MASK), X),
    ex(np.prod, "a axis keepdims", lambda a: np.prod(a, axis=0, keepdims=True), X),
    ex(np.prod, "dtype initial", lambda a: np.prod(a, dtype=np.float64, initial=-1.5, axis=1), X),
    ex(np.prod, "where", lambda a: np.prod(a, where=MASK, axis=0), X),
    ex(np.mean, "a axis keepdims", lambda a: np.mean(a, axis=(0, 1), keepdims=True), X),
    ex(np.mean, "dtype", lambda a: np.mean(a, dtype=np.float64), X),
    ex(np.mean, "where", lambda a: np.mean(a, axis=1, where=MASK), X),
    *[ex(f, "a axis keepdims", lambda a, f=f: f(a, axis=1, keepdims=True), X)
      for f in (np.max, np.amax, np.min, np.amin)],
    *[ex(f, "initial", lambda a, f=f: f(a, axis=0, initial=0.1), X)
      for f in (np.max, np.amax, np.min, np.amin)],
    *[ex(f, "where initial", lambda a, f=f, v=v: f(a, axis=1, where=MASK, initial=v), X)
      for f, v in ((np.max, -9.0), (np.amax, -9.0), (np.min, 9.0), (np.amin, 9.0))],
    *[ex(f, "a axis ddof keepdims", lambda a, f=f: f(a, axis=0, ddof=1, keepdims=True), X)
      for f in (np.var, np.std)],
    *[ex(f, "dtype", lambda a, f=f: f(a, dtype=np.float64), X) for f in (np.var, np.std)],
    *[ex(f, "where", lambda a, f=f: f(a, axis=1, where=MASK), X) for f in (np.var, np.std)],
    *[ex(f, "mean", lambda a, f=f: f(a, axis=1, mean=np.mean(a, axis=1, keepdims=True)), X)
      for f in (np.var, np.std)],
    *[ex(f, "correction", lambda a, f=f: f(a, axis=0, correction=1), X) for f in (np.var, np.std)],
    ex(np.cumsum, "a axis dtype", lambda a: np.cumsum(a, axis=0, dtype=np.float64), X),
    ex(np.trace, "a offset", lambda a: np.trace(a, offset=1), X),
    ex(np.trace, "axis1 axis2 dtype", lambda a: np.trace(a, -1, axis1=2, axis2=0, dtype=np.float64), CUBE),
    # products
    ex(np.dot, "a b", lambda a, b: np.dot(a, b), X, V),
    ex(np.vdot, "a b", lambda a, b: np.vdot(a, b), X, Y),
    ex(np.inner, "a b", lambda a, b: np.inner(a, b), CUBE, X),
    ex(np.outer, "a b", lambda a, b: np.outer(a, b), V, W),
    # shapes
    ex(np.transpose, "a axes", lambda a: np.transpose(a, (1, -1, 0)), CUBE),
    ex(np.swapaxes, "a axis1 axis2", lambda a: np.swapaxes(a, 0, -1), CUBE),
    ex(np.moveaxis, "a source destination", lambda a: np.moveaxis(a, (0, 1), (1, -1)), CUBE),
    ex(np.diagonal, "a offset axis1 axis2", lambda a: np.diagonal(a, offset=-1, axis1=2, axis2=1), CUBE),
    ex(np.repeat, "a repeats axis", lambda a: np.repeat(a, [1, 0, 3, 2], axis=1), X),
    ex(np.repeat, "repeats", lambda a: np.repeat(a, 2), X),
    ex(np.reshape, "a shape", lambda a: np.reshape(a, (4, -1)), X),
    ex(np.reshape, "order", lambda a: np.reshape(a, (2, 6), order="F"), X),
    ex(np.reshape, "order", lambda a: np.reshape(a, (6, 2), order="A"), FORTRAN),
    ex(np.reshape, "copy", lambda a: np.reshape(a, (6, 2), copy=True), X),
    ex(np.ravel, "a order", lambda a: np.ravel(a, order="F"), X),
    ex(np.ravel, "order", lambda a: np.ravel(a, order="A"), FORTRAN),
    ex(np.ravel, "order", lambda a: np.ravel(a, order="K"), STRIDED),
    ex(np.squeeze, "a axis", lambda a: np.squeeze(a, axis=1), X[:, :1]),
    ex(np.expand_dims, "a axis", lambda a: np.expand_dims(a, (0, 2)), X),
    ex(np.broadcast_to, "array shape subok", lambda a: np.broadcast_to(a, (2, 4), subok=True), V),
    ex(np.concatenate, "arrays axis", lambda a, b: np.concatenate([a, b], axis=None), X, V),
    ex(np.concatenate, "dtype casting",
       lambda a, b: np.concatenate([a, b], 1, dtype=np.float64, casting="no"), X, Y),
    ex(np.stack, "arrays axis", lambda a, b: np.stack([a, b], axis=-1), X, Y),
    ex(np.stack, "dtype casting", lambda a, b: np.stack([a, b], dtype=np.float64, casting="equiv"), X, Y),
    ex(np.hstack, "tup dtype casting", lambda a, b: np.hstack([a, b], dtype=np.float64, casting="safe"),
       X, Y),
    ex(np.vstack, "tup dtype casting", lambda a, b: np.vstack((a, b), dtype=np.float64, casting="no"), V, V),
    ex(np.atleast_1d, "arys", lambda a, b: np.concatenate(np.atleast_1d(a, b)), 2.0, V),
    # selections
    ex(np.where, "condition x y", lambda a, b: np.where(MASK, a, b), X, Y),
    ex(np.clip, "a a_min a_max", lambda a, lo: np.clip(a, lo, 0.5), X, -0.4),
    ex(np.clip, "min max", lambda a: np.clip(a, min=-0.3, max=0.6), X),
    ex(np.clip, "kwargs:dtype kwargs:casting kwargs:order",
       lambda a: np.clip(a, -0.5, 0.5, dtype=np.float64, casting="no", order="F"), X),
    # linear algebra
    ex(np.linalg.inv, "a", lambda a: np.linalg.inv(a), S),
    ex(np.linalg.det, "a", lambda a: np.linalg.det(a), S),
    ex(np.linalg.slogdet, "a", lambda a: np.linalg.slogdet(a)[1], S),
    ex(np.linalg.solve, "a b", lambda a, b: np.linalg.solve(a, b), S, W),
    ex(np.linalg.norm, "x ord axis keepdims", lambda a: np.linalg.norm(a, ord=3, axis=1, keepdims=True), X),
    # the value itself (np.real and np.imag come with the work on complex values)
    *[ex(f, "val", lambda a, f=f: f(a) * 2.0, X) for f in (np.real, np.imag) if f in FUNCTIONS],
    ex(np.copy, "a order subok", lambda a: np.copy(a, order="F", subok=True) * 2.0, X),
    ex(np.full_like, "a fill_value dtype order subok shape device",
       lambda a, v: np.full_like(a, v, dtype=np.float64, order="F", subok=False, shape=(2, 3), device="cpu"),
       X, 1.5),
    # ndarray methods
    ex("ndarray.sum", "axis dtype keepdims", lambda a: a.sum(1, np.float64, keepdims=True), X),
    ex("ndarray.sum", "initial where", lambda a: a.sum(axis=0, initial=1.0, where=MASK), X),
    ex("ndarray.prod", "axis dtype keepdims", lambda a: a.prod(axis=1, dtype=np.float64, keepdims=True), X),
    ex("ndarray.prod", "initial where", lambda a: a.prod(initial=2.0, where=MASK), X),
    ex("ndarray.mean", "axis dtype keepdims", lambda a: a.mean(axis=0, dtype=np.float64, keepdims=True), X),
    ex("ndarray.mean", "where", lambda a: a.mean(where=MASK), X),
    *[ex(f"ndarray.{m}", "axis keepdims initial",
         lambda a, m=m: getattr(a, m)(axis=1, keepdims=True, initial=0.2), X)
      for m in ("max", "min")],
    *[ex(f"ndarray.{m}", "where initial", lambda a, m=m, v=v: getattr(a, m)(where=MASK, initial=v), X)
      for m, v in (("max", -9.0), ("min", 9.0))],
    *[ex(f"ndarray.{m}", "axis dtype ddof keepdims",
         lambda a, m=m: getattr(a, m)(axis=1, dtype=np.float64, ddof=1, keepdims=True), X)
      for m in ("var", "std")],
    *[ex(f"ndarray.{m}", "where mean",
         lambda a, m=m: getattr(a, m)(0, where=MASK, mean=a.mean(0, keepdims=True, where=MASK)), X)
      for m in ("var", "std")],
    ex("ndarray.cumsum", "axis dtype", lambda a: a.cumsum(axis=1, dtype=np.float64), X),
    ex("ndarray.trace", "offset axis1 axis2 dtype", lambda a: a.trace(1, 0, 2, np.float64), CUBE),
    ex("ndarray.diagonal", "offset axis1 axis2", lambda a: a.diagonal(-1, 2, 0), CUBE),
    ex("ndarray.dot", "other", lambda a, b: a.dot(b), X, V),
    ex("ndarray.clip", "min max", lambda a: a.clip(-0.5, 0.5), X),
    ex("ndarray.clip", "kwargs:dtype kwargs:casting kwargs:order",
       lambda a: a.clip(-0.5, dtype=np.float64, casting="unsafe", order="C"), X),
    ex("ndarray.copy", "order", lambda a: a.copy(order="F") + 1.0, X),
    # casts: to a float type the derivative follows; to an integer type the result is a constant
    ex("ndarray.astype", "dtype", lambda a: a.astype(np.float64) * a, X),
    ex("ndarray.astype", "dtype order casting subok copy",
       lambda a: a.astype(np.float64, order="F", casting="same_kind", subok=False, copy=False) + a, X),
    ex("ndarray.astype", "dtype", lambda a: a.astype(np.int64) + a, X),
    # rounding: traced results with derivative 0 (as PyTorch and JAX)
    ex(np.round, "a decimals", lambda a: np.round(a, decimals=1) + a, X),
    ex(np.around, "a decimals", lambda a: np.around(a, -1) * 0.5 + a, X),
    ex("ndarray.round", "decimals", lambda a: a.round(decimals=2) + a, X),
    ex("ndarray.transpose", "axes", lambda a: a.transpose(2, 0, 1), CUBE),
    ex("ndarray.transpose", "axes", lambda a: a.transpose((1, 2, 0)), CUBE),
    ex("ndarray.reshape", "shape order", lambda a: a.reshape(2, 6, order="F"), X),
    ex("ndarray.reshape", "shape copy", lambda a: a.reshape((6, 2), copy=True), X),
    ex("ndarray.ravel", "order", lambda a: a.ravel("F"), X),
    ex("ndarray.flatten", "order", lambda a: a.flatten("F"), X),
    ex("ndarray.flatten", "order", lambda a: a.T.flatten("A"), X),
    ex("ndarray.flatten", "order", lambda a: a.flatten("K"), STRIDED),
    ex("ndarray.squeeze", "axis", lambda a: a.squeeze(0), X[None]),
    ex("ndarray.swapaxes", "axis1 axis2", lambda a: a.swapaxes(-1, 0), CUBE),
    ex("ndarray.repeat", "repeats axis", lambda a: a.repeat(np.array([2, 0, 1]), axis=0), X),
    ex("ndarray.conj", "", lambda a: a.conj() * 2.0, X),
    ex("ndarray.conjugate", "", lambda a: a.conjugate() * 2.0, X),
]

# ufunc keywords, for a call and for ufunc.outer (which takes the same ones)
_CALLS = {UFUNC_CALL: lambda a, b, **kw: np.subtract(a, b, **kw),
          ("outer", np.multiply): lambda a, b, **kw: np.multiply.outer(a, b, **kw)}
IMPLEMENTED += [
    ex(UFUNC_CALL, "x1 x2", lambda a, b: np.hypot(a, b), X, Y),
    ex(("outer", np.multiply), "A B", lambda a, b: np.multiply.outer(a, b), X, V),
    *[ex(target, params, lambda a, b, call=call, kw=kw: call(a, b, **kw), X, Y if target == UFUNC_CALL else V)
      for target, call in _CALLS.items()
      for params, kw in (("dtype", {"dtype": np.float64}), ("casting", {"casting": "no"}),
                         ("order", {"order": "F"}))],
]

# ufunc methods: np.add.reduce, np.maximum.reduce, ... with the ufunc's default axis=0
_REDUCE_INITIAL = {np.add: 1.5, np.multiply: -2.0, np.maximum: 0.3, np.minimum: -0.3, np.logaddexp: 0.5}
for (_method, _ufunc), _ in UFUNC_METHODS.items():
    if _method == "reduce":
        _init = _REDUCE_INITIAL[_ufunc]
        IMPLEMENTED += [
            ex((_method, _ufunc), "array", lambda a, u=_ufunc: u.reduce(a), X),
            ex((_method, _ufunc), "axis keepdims dtype",
               lambda a, u=_ufunc: u.reduce(a, axis=1, keepdims=True, dtype=np.float64), X),
            ex((_method, _ufunc), "initial",
               lambda a, u=_ufunc, v=_init: u.reduce(a, axis=None, initial=v), X),
            ex((_method, _ufunc), "where initial",
               lambda a, u=_ufunc, v=_init: u.reduce(a, where=MASK, initial=v), X),
        ]
IMPLEMENTED.append(ex(("accumulate", np.add), "array axis dtype",
                      lambda a: np.add.accumulate(a, axis=1, dtype=np.float64), X))

REFUSED = [
    ex("ndarray.astype", "dtype", lambda a: a.astype(np.complex128), X),
    ex(np.round, "out", lambda a: np.round(a, 1, out=np.empty((3, 4))), X),
    ex(np.around, "out", lambda a: np.around(a, out=np.empty((3, 4))), X),
    ex("ndarray.round", "out", lambda a: a.round(out=np.empty((3, 4))), X),
    *[ex(f, "out", lambda a, f=f: f(a, out=np.empty(())), X)
      for f in (np.sum, np.prod, np.mean, np.max, np.amax, np.min, np.amin, np.var, np.std, np.trace)],
    *[ex(f, "dtype", lambda a, f=f: f(a, dtype=np.float32), X)
      for f in (np.sum, np.prod, np.mean, np.var, np.std, np.cumsum, np.trace)],
    ex(np.cumsum, "out", lambda a: np.cumsum(a, out=np.empty(12)), X),
    ex(np.dot, "out", lambda a, b: np.dot(a, b, out=np.empty(3)), X, V),
    ex(np.outer, "out", lambda a, b: np.outer(a, b, out=np.empty((4, 3))), V, W),
    ex(np.reshape, "copy", lambda a: np.reshape(a, -1, copy=False), X),
    ex(np.concatenate, "out", lambda a, b: np.concatenate([a, b], out=np.empty((6, 4))), X, Y),
    ex(np.concatenate, "dtype", lambda a, b: np.concatenate([a, b], dtype=np.float32), X, Y),
    ex(np.stack, "out", lambda a, b: np.stack([a, b], out=np.empty((2, 3, 4))), X, Y),
    ex(np.stack, "dtype", lambda a, b: np.stack([a, b], dtype=np.float32, casting="unsafe"), X, Y),
    ex(np.hstack, "dtype", lambda a, b: np.hstack([a, b], dtype=np.float16, casting="unsafe"), X, Y),
    ex(np.vstack, "dtype", lambda a, b: np.vstack([a, b], dtype=np.float32, casting="same_kind"), X, Y),
    ex(np.clip, "out", lambda a: np.clip(a, 0, 1, out=np.empty((3, 4))), X),
    ex(np.clip, "kwargs:where", lambda a: np.clip(a, 0, 1, where=MASK), X),
    ex(np.clip, "kwargs:subok", lambda a: np.clip(a, 0, 1, subok=False), X),
    ex(np.clip, "kwargs:signature", lambda a: np.clip(a, 0, 1, signature=(None, None, None, "d")), X),
    ex(np.clip, "kwargs:dtype", lambda a: np.clip(a, 0, 1, dtype=np.float32), X),
    ex(np.full_like, "dtype", lambda a: np.full_like(a, a[0, 0], dtype=int), X),
    *[ex(f"ndarray.{m}", "out", lambda a, m=m: getattr(a, m)(out=np.empty(())), X)
      for m in ("sum", "prod", "mean", "max", "min", "var", "std", "trace")],
    *[ex(f"ndarray.{m}", "dtype", lambda a, m=m: getattr(a, m)(dtype=np.float32), X)
      for m in ("sum", "prod", "mean", "var", "std", "trace", "cumsum")],
    ex("ndarray.cumsum", "out", lambda a: a.cumsum(out=np.empty(12)), X),
    ex("ndarray.dot", "out", lambda a, b: a.dot(b, out=np.empty(3)), X, V),
    ex("ndarray.clip", "out", lambda a: a.clip(0, 1, out=np.empty((3, 4))), X),
    ex("ndarray.clip", "kwargs:where", lambda a: a.clip(0, 1, where=MASK), X),
    ex("ndarray.clip", "kwargs:subok", lambda a: a.clip(0, 1, subok=False), X),
    ex("ndarray.clip", "kwargs:signature", lambda a: a.clip(0, 1, signature=(None, None, None, "d")), X),
    ex("ndarray.reshape", "copy", lambda a: a.reshape(-1, copy=False), X),
    *[ex(target, params, lambda a, b, call=call, kw=kw: call(a, b, **kw), X, Y if target == UFUNC_CALL else V)
      for target, call in _CALLS.items()
      for params, kw in (("out", {"out": np.empty((3, 4) if target == UFUNC_CALL else (3, 4, 4))}),
                         ("where", {"where": np.ones(4, dtype=bool)}),
                         ("subok", {"subok": False}), ("dtype", {"dtype": np.float32}),
                         ("signature", {"signature": (None, None, "d")}))],
    ex(UFUNC_CALL, "axes", lambda a, b: np.matmul(a, b, axes=[(0, 1), (0,), (0,)]), X, W),
    ex(UFUNC_CALL, "axis", lambda a, b: np.matmul(a, b, axis=0), V, V),
]
for (_method, _ufunc), _ in UFUNC_METHODS.items():
    REFUSED.append(ex((_method, _ufunc), "out",
                      lambda a, m=_method, u=_ufunc: getattr(u, m)(a, out=np.empty(4)), X))
    REFUSED.append(ex((_method, _ufunc), "dtype",
                      lambda a, m=_method, u=_ufunc: getattr(u, m)(a, dtype=np.float32), X))

#: parameter values NumPy itself rejects: adkit, implementing the parameter, rejects them the same way
AS_NUMPY_ERRORS = [
    ex(UFUNC_CALL, "casting", lambda a: np.add(a, np.arange(4), casting="no"), X),
    ex(UFUNC_CALL, "order", lambda a: np.sin(a, order="X"), X),
    ex(UFUNC_CALL, "dtype", lambda a: np.sin(a, dtype=np.int64), X),
    ex(np.clip, "kwargs:casting", lambda a: np.clip(a, np.int64(0), 1, casting="no"), X),
    ex(np.concatenate, "casting", lambda a: np.concatenate([a, np.arange(4)[None]], casting="no"), X),
    ex(np.stack, "casting", lambda a: np.stack([a, np.ones((3, 4), dtype=int)], casting="equiv"), X),
    ex(np.reshape, "order", lambda a: np.reshape(a, -1, order="K"), X),
    ex(np.ravel, "order", lambda a: np.ravel(a, order="X"), X),
    ex(np.var, "correction", lambda a: np.var(a, ddof=1, correction=1), X),
    ex(np.max, "where", lambda a: np.max(a, where=MASK), X),
    ex(np.clip, "min", lambda a: np.clip(a, 0, 1, min=0), X),
    ex(np.where, "x", lambda a: np.where(MASK, a), X),
    ex(np.moveaxis, "destination", lambda a: np.moveaxis(a, (0, 1), (1,)), X),
    ex(np.trace, "axis1", lambda a: np.trace(a, axis1=1, axis2=1), X),
    ex(np.trace, "axis2", lambda a: np.trace(a, axis2=5), X),
    ex(np.repeat, "repeats", lambda a: np.repeat(a, [1, 2]), X),
    ex(np.transpose, "axes", lambda a: np.transpose(a, (0, 2)), X),
]

# -- contractions (issue 13, item 2): einsum and the products written with it -------------------------
BOX = rng.normal(size=(4, 3, 2))
VEC3 = rng.normal(size=(4, 3))
IMPLEMENTED += [
    ex(np.einsum, "operands", lambda a, b: np.einsum("ij,kj->ik", a, b), X, Y),
    ex(np.einsum, "operands", lambda a: np.einsum("...ii->...i", a), CUBE[:, :, :3]),
    ex(np.einsum, "operands", lambda a, b: np.einsum(a, [0, ...], b, [1, ...], [1, ..., 0]), X, Y),
    ex(np.einsum, "optimize", lambda a, b: np.einsum("ij,kj,kl->li", a, b, a, optimize="optimal"), X, Y),
    ex(np.einsum, "optimize",
       lambda a, b: np.einsum("ij,jk,kl", a, b.T, a, optimize=["einsum_path", (0, 2), (0, 1)]), X, Y),
    ex(np.einsum, "kwargs:dtype kwargs:order kwargs:casting",
       lambda a: np.einsum("ij->j", a, dtype=np.float64, order="F", casting="same_kind"), X),
    ex(np.tensordot, "a b axes", lambda a, b: np.tensordot(a, b, axes=([2, 0], [0, 2])), CUBE, BOX),
    ex(np.tensordot, "axes", lambda a, b: np.tensordot(a, b, axes=1), X, BOX),
    ex(np.dot, "a b", lambda a, b: np.dot(a, b), CUBE, BOX.transpose(1, 0, 2)),
    ex(np.kron, "a b", lambda a, b: np.kron(a, b), X[:2, :3], W),
    ex(np.cross, "a b axisa axisb axisc", lambda a, b: np.cross(a, b, axisa=0, axisb=-1, axisc=0),
       X[:, :3], VEC3[1:]),
    ex(np.cross, "axis", lambda a, b: np.cross(a, b, axis=0), VEC3[:3], X[:, 1:]),
    ex(np.linalg.multi_dot, "arrays", lambda a, b, v: np.linalg.multi_dot([v, a, b.T, a, V]), X, Y, W),
    ex(np.linalg.tensordot, "x1 x2 axes", lambda a, b: np.linalg.tensordot(a, b, axes=([1], [0])), X, BOX),
    ex(np.linalg.outer, "x1 x2", lambda a, b: np.linalg.outer(a, b), V, W),
    ex(np.linalg.cross, "x1 x2 axis", lambda a, b: np.linalg.cross(a, b, axis=0), VEC3[:3], X[:, :3]),
    ex(np.linalg.matmul, "x1 x2", lambda a, b: np.linalg.matmul(a, b), CUBE, X.T),
]
REFUSED += [
    ex(np.einsum, "out", lambda a: np.einsum("ij->ji", a, out=np.empty((4, 3))), X),
    ex(np.einsum, "kwargs:dtype", lambda a: np.einsum("ij->j", a, dtype=np.float32, casting="unsafe"), X),
    ex(np.linalg.multi_dot, "out", lambda a, b: np.linalg.multi_dot([a, b.T, a], out=np.empty((3, 4))), X, Y),
]
AS_NUMPY_ERRORS += [
    ex(np.einsum, "operands", lambda a: np.einsum("ij,jk", a), X),
    ex(np.einsum, "operands", lambda a: np.einsum("ii", a), X),
    ex(np.einsum, "operands", lambda a: np.einsum("ij...->ij", a), CUBE),
    ex(np.einsum, "operands", lambda a: np.einsum("ij->ii", a), X),
    ex(np.einsum, "operands", lambda a: np.einsum("ij->k", a), X),
    ex(np.einsum, "operands", lambda a: np.einsum("i$", a), X),
    ex(np.einsum, "operands", lambda a, b: np.einsum("ij,ij", a, b), X, S),
    ex(np.einsum, "kwargs:casting", lambda a: np.einsum("ij->j", a, dtype=np.float32, casting="no"), X),
    ex(np.einsum, "optimize", lambda a, b: np.einsum("ij,jk,kl", a, b.T, a, optimize=["einsum_path", (0, 5)]),
       X, Y),
    ex(np.tensordot, "axes", lambda a, b: np.tensordot(a, b, axes=2), X, BOX),
    ex(np.tensordot, "axes", lambda a, b: np.tensordot(a, b, axes=3), X, BOX),
    ex(np.dot, "b", lambda a, b: np.dot(a, b), CUBE, X),
    ex(np.cross, "a", lambda a, b: np.cross(a, b), X, X),
    ex(np.linalg.multi_dot, "arrays", lambda a: np.linalg.multi_dot([a]), X),
    ex(np.linalg.multi_dot, "arrays", lambda a, b: np.linalg.multi_dot([a, b, a]), CUBE, X),
    ex(np.linalg.outer, "x1", lambda a, b: np.linalg.outer(a, b), X, V),
    ex(np.linalg.cross, "x1", lambda a, b: np.linalg.cross(a, b), X, Y),
]

# -- order statistics and reductions (issue 13, item 4) -------------------------------------------------
def _with_nan(a):
    """``a`` with a nan where MASK is False (inside the examples, so NumPy's own function sees the same)."""
    return np.where(MASK, a, np.nan)


_QUANTILES = (np.quantile, 0.3, [0.0, 0.45, 1.0]), (np.percentile, 30.0, [0.0, 45.0, 100.0])
_METHODS = ("linear", "lower", "higher", "midpoint", "nearest", "hazen", "weibull", "median_unbiased",
            "normal_unbiased", "inverted_cdf", "averaged_inverted_cdf", "closest_observation",
            "interpolated_inverted_cdf")
IMPLEMENTED += [
    ex(np.sort, "a axis", lambda a: np.sort(a, axis=0), X),
    ex(np.sort, "axis kind", lambda a: np.sort(a, axis=None, kind="mergesort"), X),
    ex(np.sort, "stable", lambda a: np.sort(a, stable=True), X),
    ex(np.partition, "a kth axis", lambda a: np.partition(a, [0, 2], axis=0), X),
    ex(np.partition, "kind", lambda a: np.partition(a, 1, axis=None, kind="introselect") + 0.0, X),
    *[ex(f, "a axis keepdims", lambda a, f=f: f(a, axis=1, keepdims=True), X)
      for f in (np.median, np.nanmedian)],
    *[ex(f, "overwrite_input", lambda a, f=f: f(a * 1.0, axis=(0, 2), overwrite_input=True), CUBE)
      for f in (np.median, np.nanmedian)],
    ex(np.nanmedian, "a axis", lambda a: np.nanmedian(_with_nan(a), axis=0), X),
    *[ex(f, "a q axis keepdims", lambda a, f=f, q=q: f(a, q, axis=1, keepdims=True), X)
      for f, q, _ in _QUANTILES],
    *[ex(f, "q method", lambda a, f=f, qs=qs, m=m: f(a, qs, axis=0, method=m), X)
      for f, _, qs in _QUANTILES for m in _METHODS],
    *[ex(f, "q", lambda a, q, f=f: f(a, q, axis=1), X, 0.37 * (99 if f is np.percentile else 1))
      for f, _, _ in _QUANTILES],
    *[ex(f, "overwrite_input", lambda a, f=f, q=q: f(a * 1.0, q, overwrite_input=True), X)
      for f, q, _ in _QUANTILES],
    *[ex(f, "weights", lambda a, f=f, q=q: f(a, q, axis=1, method="inverted_cdf", weights=V ** 2), X)
      for f, q, _ in _QUANTILES],
    *[ex(f, "a q axis keepdims method",
         lambda a, f=f, q=q: f(_with_nan(a), q, axis=1, keepdims=True, method="hazen"), X)
      for f, q in ((np.nanquantile, [0.2, 0.8]), (np.nanpercentile, [20.0, 80.0]))],
    *[ex(f, "overwrite_input weights", lambda a, f=f, q=q: f(_with_nan(a), q, axis=0, overwrite_input=True,
                                                         method="inverted_cdf", weights=X ** 2), X)
      for f, q in ((np.nanquantile, 0.6), (np.nanpercentile, 60.0))],
    ex(np.ptp, "a axis keepdims", lambda a: np.ptp(a, axis=0, keepdims=True), X),
    ex(np.average, "a axis weights", lambda a, w: np.average(a, axis=(1, 0), weights=w), CUBE, X[:, :2]),
    ex(np.average, "returned keepdims",
       lambda a, w: np.average(a, 1, w, returned=True, keepdims=True)[1] * np.average(a, returned=True)[0],
       X, V),
    ex(np.average, "returned", lambda a: np.average(a, axis=0, returned=True)[1] + a[0], X),
    ex(np.cumprod, "a axis dtype", lambda a: np.cumprod(a, axis=1, dtype=np.float64), X),
    ex("ndarray.cumprod", "axis dtype", lambda a: a.cumprod(0, np.float64), X),
    ex(("accumulate", np.multiply), "array axis dtype",
       lambda a: np.multiply.accumulate(a, axis=1, dtype=np.float64), X),
    *[ex(f, "x axis dtype include_initial",
         lambda a, f=f: f(a, axis=1, dtype=np.float64, include_initial=True), X)
      for f in (np.cumulative_sum, np.cumulative_prod) if f in FUNCTIONS],
    ex(np.nansum, "a axis dtype keepdims", lambda a: np.nansum(_with_nan(a), 1, np.float64, keepdims=True),
       X),
    ex(np.nansum, "initial where", lambda a: np.nansum(_with_nan(a), 0, initial=0.5, where=ROWS[:, None]), X),
    ex(np.nanprod, "a axis dtype keepdims", lambda a: np.nanprod(_with_nan(a), 0, np.float64, keepdims=True),
       X),
    ex(np.nanprod, "initial where",
       lambda a: np.nanprod(_with_nan(a), 1, initial=2.0, where=ROWS[:, None] | MASK), X),
    *[ex(f, "a axis dtype", lambda a, f=f: f(_with_nan(a), axis=1, dtype=np.float64), X)
      for f in (np.nancumsum, np.nancumprod)],
    ex(np.nanmean, "a axis dtype keepdims", lambda a: np.nanmean(_with_nan(a), 0, np.float64, keepdims=True),
       X),
    ex(np.nanmean, "where", lambda a: np.nanmean(_with_nan(a), axis=1, where=ROWS[:, None] | MASK), X),
    *[ex(f, "a axis keepdims", lambda a, f=f: f(_with_nan(a), axis=1, keepdims=True), X)
      for f in (np.nanmax, np.nanmin)],
    *[ex(f, "initial where", lambda a, f=f, v=v: f(_with_nan(a), axis=0, initial=v, where=ROWS[:, None]), X)
      for f, v in ((np.nanmax, -5.0), (np.nanmin, 5.0))],
    *[ex(f, "a axis dtype ddof keepdims", lambda a, f=f: f(_with_nan(a), axis=1, dtype=np.float64, ddof=1,
                                                          keepdims=True), X)
      for f in (np.nanvar, np.nanstd)],
    *[ex(f, "where mean", lambda a, f=f: f(_with_nan(a), axis=1, where=ROWS[:, None] | MASK,
                                           mean=np.nanmean(_with_nan(a), axis=1, keepdims=True)), X)
      for f in (np.nanvar, np.nanstd)],
    *[ex(f, "correction", lambda a, f=f: f(_with_nan(a), axis=0, correction=1), X)
      for f in (np.nanvar, np.nanstd)],
]
_NAN_FUNCTIONS = (np.nansum, np.nanprod, np.nancumsum, np.nancumprod, np.nanmean, np.nanvar, np.nanstd)
_NO_OUT_ORDER = (np.median, np.nanmedian, np.ptp, np.cumprod, np.nanmax, np.nanmin, *_NAN_FUNCTIONS)
REFUSED += [
    ex(np.sort, "order", lambda a: np.sort(a, order="x"), X),
    ex(np.partition, "order", lambda a: np.partition(a, 1, order=["x"]), X),
    *[ex(f, "out", lambda a, f=f: f(a, out=np.empty(())), X) for f in _NO_OUT_ORDER],
    *[ex(f, "out", lambda a, f=f: f(a, 0.5, out=np.empty(())), X)
      for f in (np.quantile, np.percentile, np.nanquantile, np.nanpercentile)],
    *[ex(f, "dtype", lambda a, f=f: f(a, dtype=np.float32), X)
      for f in (np.cumprod, *_NAN_FUNCTIONS)],
    ex("ndarray.cumprod", "out", lambda a: a.cumprod(out=np.empty(12)), X),
    ex("ndarray.cumprod", "dtype", lambda a: a.cumprod(dtype=np.float32), X),
    *[ex(f, p, lambda a, f=f, kw=kw: f(a, axis=0, **kw), X)
      for f in (np.cumulative_sum, np.cumulative_prod) if f in FUNCTIONS
      for p, kw in (("out", {"out": np.empty((3, 4))}), ("dtype", {"dtype": np.float32}))],
]
AS_NUMPY_ERRORS += [
    ex(np.sort, "kind", lambda a: np.sort(a, kind="bogus"), X),
    ex(np.sort, "stable", lambda a: np.sort(a, kind="stable", stable=True), X),
    ex(np.sort, "axis", lambda a: np.sort(a, axis=2), X),
    ex(np.partition, "kth", lambda a: np.partition(a, 4, axis=0), X),
    ex(np.partition, "kind", lambda a: np.partition(a, 1, kind="bogus"), X),
    ex(np.quantile, "q", lambda a: np.quantile(a, 1.5), X),
    ex(np.quantile, "q", lambda a: np.quantile(a, np.full((2, 2, 2), 0.5)), X),
    ex(np.percentile, "q", lambda a: np.percentile(a, -1.0), X),
    ex(np.quantile, "method", lambda a: np.quantile(a, 0.5, method="bogus"), X),
    ex(np.quantile, "weights", lambda a: np.quantile(a, 0.5, weights=np.ones((3, 4))), X),
    ex(np.quantile, "weights", lambda a: np.quantile(a, 0.5, method="inverted_cdf", weights=V), X),
    ex(np.quantile, "weights", lambda a: np.quantile(a, 0.5, axis=1, method="inverted_cdf", weights=W), X),
    *[ex(np.quantile, "weights", lambda a, w=w: np.quantile(a, 0.5, method="inverted_cdf", weights=w), X)
      for w in (-np.ones((3, 4)), np.zeros((3, 4)))],
    ex(np.average, "weights", lambda a: np.average(a, weights=V), X),
    ex(np.average, "weights", lambda a: np.average(a, axis=1, weights=W), X),
    ex(np.average, "weights", lambda a: np.average(a, axis=1, weights=np.zeros(4)), X),
    ex(np.average, "axis", lambda a: np.average(a, axis=(1, 1), weights=V), X),
    *[ex(f, "axis", lambda a, f=f: f(a), X)
      for f in (np.cumulative_sum, np.cumulative_prod) if f in FUNCTIONS],
    ex(np.median, "axis", lambda a: np.median(a, axis=3), X),
]
# -- issue 13: arrays from traced values, shape and structure, elementwise --------------------------
# (np.array and friends reach adkit through like=; adkit.array is the same handler)
INFS = np.array([[1.5, np.nan, np.inf], [-np.inf, 0.5, -2.0]])
COORDINATES = np.array([0.0, 0.4, 1.1, 1.3])
IMPLEMENTED += [
    ex(np.array, "object", lambda a, b: np.array([[a[0, 0] * b[1], 2.0], [np.sin(a[1, 2]), b[0]]], like=a),
       X, V),
    ex(np.array, "object", lambda a: np.array(([a[0], a[1] * 2], [a[2], 1.0 + a[0]]), like=a), X),
    ex(np.array, "dtype ndmin", lambda a: np.array([a[0], a[1] * 2], dtype=np.float64, ndmin=4, like=a), X),
    ex(np.array, "dtype", lambda a: np.array([a[0], a[1]], dtype=np.int64, like=a) + a[0], X),
    ex(np.array, "copy order subok",
       lambda a: np.array(a, copy=False, order="A", subok=True, like=a) * 2.0, X),
    ex(np.array, "ndmax", lambda a: np.array([a[0], a[1]], ndmax=2, like=a), X),
    *[ex(f, "a dtype order device copy",
         lambda a, f=f: f([a[0], a[1]], np.float64, "F", device="cpu", copy=True, like=a), X)
      for f in (np.asarray, np.asanyarray)],
    ex(np.ascontiguousarray, "a dtype", lambda a: np.ascontiguousarray(a[0, 0], dtype=np.float64, like=a), X),
    ex(np.asfortranarray, "a dtype", lambda a: np.asfortranarray([a[0, 0], a[1, 1]], np.float64, like=a), X),
    # shape and structure
    ex(np.diag, "v k", lambda a: np.diag(a, k=-2), V),
    ex(np.diag, "v k", lambda a: np.diag(a, 1), X),
    ex(np.diagflat, "v k", lambda a: np.diagflat(a[:2, :2], k=1), X),
    ex(np.tril, "m k", lambda a: np.tril(a, k=1), X),
    ex(np.tril, "m", lambda a: np.tril(a), CUBE),
    ex(np.triu, "m k", lambda a: np.triu(a, -1), CUBE),
    ex(np.tile, "A reps", lambda a: np.tile(a, (2, 1, 2)), X),
    ex(np.roll, "a shift axis", lambda a: np.roll(a, (1, -2), axis=(0, 1)), X),
    ex(np.roll, "shift", lambda a: np.roll(a, 5), X),
    ex(np.rot90, "m k axes", lambda a: np.rot90(a, k=-1, axes=(2, 0)), CUBE),
    ex(np.flip, "m axis", lambda a: np.flip(a, axis=(0, -1)), CUBE),
    ex(np.flip, "m", lambda a: np.flip(a), X),
    ex(np.fliplr, "m", lambda a: np.fliplr(a), X),
    ex(np.flipud, "m", lambda a: np.flipud(a), V),
    ex(np.rollaxis, "a axis start", lambda a: np.rollaxis(a, 2, start=1), CUBE),
    ex(np.split, "ary indices_or_sections axis", lambda a: np.split(a, [1, 3], axis=1)[1], X),
    ex(np.split, "indices_or_sections", lambda a: np.stack(np.split(a, 3)), X),
    ex(np.array_split, "ary indices_or_sections axis", lambda a: np.array_split(a, 3, axis=1)[0], X),
    ex(np.hsplit, "ary indices_or_sections", lambda a: np.hsplit(a, 2)[1], X),
    ex(np.vsplit, "ary indices_or_sections", lambda a: np.vsplit(a, [2])[0], X),
    ex(np.dsplit, "ary indices_or_sections", lambda a: np.dsplit(a, [1, 3])[1], CUBE),
    ex(np.unstack, "x axis", lambda a: np.unstack(a, axis=1)[2], CUBE),
    ex(np.insert, "arr obj values axis", lambda a, b: np.insert(a, [1, 3], b[:, :2], axis=1), X, Y),
    ex(np.insert, "obj values", lambda a, v: np.insert(a, 2, v), X, W),
    ex(np.delete, "arr obj axis", lambda a: np.delete(a, [0, 2], axis=1), X),
    ex(np.delete, "obj", lambda a: np.delete(a, slice(1, 8, 3)), X),
    ex(np.append, "arr values axis", lambda a, b: np.append(a, b[:1], axis=0), X, Y),
    ex(np.append, "values", lambda a, v: np.append(a, v), X, V),
    ex(np.take, "a indices axis mode", lambda a: np.take(a, [[0, 5], [-1, 2]], axis=1, mode="wrap"), X),
    ex(np.take, "indices mode", lambda a: np.take(a, [0, 15, 3], mode="clip"), X),
    ex(np.take_along_axis, "arr indices axis",
       lambda a: np.take_along_axis(a, np.argsort(a, axis=0), axis=0), X),
    ex(np.take_along_axis, "axis", lambda a: np.take_along_axis(a, np.array([5, 0, 11]), axis=None), X),
    ex(np.block, "arrays", lambda a, b: np.block([[a, b[:, :1]], [b[:1], 2.0]]), X, Y),
    ex(np.pad, "array pad_width mode kwargs:constant_values",
       lambda a, c: np.pad(a, ((1, 2), (0, 1)), mode="constant", constant_values=((c, 2.0), (-1.0, c * 3))),
       X, 0.5),
    ex(np.pad, "pad_width", lambda a: np.pad(a, 1), X),
    *[ex(np.pad, "mode", lambda a, m=m: np.pad(a, ((2, 0), (3, 5)), mode=m), X)
      for m in ("edge", "reflect", "symmetric", "wrap")],
    ex(np.pad, "kwargs:reflect_type", lambda a: np.pad(a, (3, 1), mode="symmetric", reflect_type="even"), X),
    ex(np.column_stack, "tup", lambda a, v: np.column_stack((v, a.T)), X, V),
    ex(np.dstack, "tup", lambda a, b: np.dstack([a, b]), X, Y),
    ex(np.atleast_2d, "arys", lambda a, v: np.atleast_2d(a, v)[1] * 2 + np.atleast_2d(a[0, 0]), X, V),
    ex(np.atleast_3d, "arys", lambda a, v: np.atleast_3d(a, v)[0] + np.atleast_3d(v).sum(), X, V),
    ex(np.broadcast_arrays, "args subok", lambda a, v: np.broadcast_arrays(a, v, subok=True)[1] * 2, X, V),
    ex(np.select, "condlist choicelist default",
       lambda a, b: np.select([MASK, a > 0.5], [a, b ** 2], default=b[0]), X, Y),
    ex(np.diff, "a n axis prepend append",
       lambda a, b: np.diff(a, n=2, axis=0, prepend=b[0, 0], append=b[:1]), X, Y),
    ex(np.gradient, "f varargs axis edge_order", lambda a, c: np.gradient(a, c, axis=1, edge_order=2),
       X, COORDINATES),
    ex(np.gradient, "varargs", lambda a: np.stack(np.gradient(a, 0.5, COORDINATES)), X),
    ex(np.gradient, "f", lambda a: np.gradient(a), V),
    ex(np.linspace, "start stop num endpoint retstep dtype axis device",
       lambda a, b: (lambda r: r[0] * r[1][..., None])(
           np.linspace(a, b, 5, endpoint=False, retstep=True, dtype=np.float64, axis=-1, device="cpu")),
       V, Y),
    ex(np.linspace, "dtype", lambda a, b: np.linspace(a, b, 4, dtype=np.int64) + a, W, W + 3.0),
    # elementwise
    ex(np.sinc, "x", lambda a: np.sinc(a), X),
    ex(np.nan_to_num, "x nan posinf neginf",
       lambda a, r: np.nan_to_num(a[:2, :3] + INFS, nan=r, posinf=2.0, neginf=-r * 3), X, 0.25),
    ex(np.real_if_close, "a tol", lambda a: np.real_if_close(a, tol=1000) * 2, X),
    ex("ndarray.take", "indices axis mode", lambda a: a.take([3, -1], axis=1, mode="clip"), X),
]
REFUSED += [
    ex(np.array, "dtype", lambda a: np.array([a[0]], dtype=np.complex128, like=a), X),
    ex(np.array, "dtype", lambda a: np.array([a[0], 1.0], dtype=object, like=a), X),
    ex(np.pad, "mode", lambda a: np.pad(a, 1, mode="mean"), X),
    ex(np.pad, "kwargs:stat_length", lambda a: np.pad(a, 1, mode="maximum", stat_length=2), X),
    ex(np.pad, "kwargs:end_values", lambda a: np.pad(a, 1, mode="linear_ramp", end_values=1.0), X),
    ex(np.pad, "kwargs:reflect_type", lambda a: np.pad(a, 1, mode="reflect", reflect_type="odd"), X),
    ex(np.take, "out", lambda a: np.take(a, [0, 1], out=np.empty(2)), X),
    ex("ndarray.take", "out", lambda a: a.take([0, 1], out=np.empty(2)), X),
    ex(np.nan_to_num, "copy", lambda a: np.nan_to_num(a, copy=False), X),
]
AS_NUMPY_ERRORS += [
    ex(np.array, "copy", lambda a: np.array([a[0], a[1]], copy=False, like=a), X),
    ex(np.array, "ndmax", lambda a: np.array([a[0], a[1]], ndmax=1, like=a), X),
    ex(np.array, "object", lambda a: np.array([a[0], a[1, :2]], like=a), X),
    ex(np.pad, "kwargs:constant_values", lambda a: np.pad(a, 1, mode="edge", constant_values=1.0), X),
    ex(np.split, "indices_or_sections", lambda a: np.split(a, 5, axis=1), X),
    ex(np.diag, "v", lambda a: np.diag(a), CUBE),
    ex(np.take, "mode", lambda a: np.take(a, [0], mode="nearest"), X),
    ex(np.take, "indices", lambda a: np.take(a, [12]), X),
    ex(np.linspace, "num", lambda a: np.linspace(a, a + 1, -1), V),
    ex(np.gradient, "edge_order", lambda a: np.gradient(a, edge_order=3), V),
    ex(np.gradient, "varargs", lambda a: np.gradient(a, np.ones(3)), V),
    ex(np.rot90, "axes", lambda a: np.rot90(a, axes=(0, 0)), X),
    ex(np.block, "arrays", lambda a: np.block((a, a)), X),
    ex(np.fliplr, "m", lambda a: np.fliplr(a), V),
    ex(np.diff, "n", lambda a: np.diff(a, -1), V),
    ex(np.select, "condlist", lambda a: np.select([a], [a]), X),
    ex(np.insert, "values", lambda a: np.insert(a, [0, 1], a[:3], axis=1), X),
]
# -- linear algebra (issue 13, item 6): decompositions on inputs where their derivatives exist ------
_la = np.random.default_rng(1313)
_Q3, _Q4 = np.linalg.qr(_la.normal(size=(3, 3)))[0], np.linalg.qr(_la.normal(size=(4, 4)))[0]
SYM = _Q3 @ np.diag([-2.1, 0.6, 1.4]) @ _Q3.T  # distinct eigenvalues, and distinct |eigenvalues|
SKEWED = SYM + np.triu(_la.normal(size=(3, 3)), 1)  # eigh and cholesky read the lower triangle only
SPD = SYM + 3.0 * np.eye(3)
TALL = _Q4[:, :3] @ np.diag([3.0, 1.9, 0.7]) @ _Q3  # distinct singular values
WIDE = TALL.T
B4 = _la.normal(size=4)
CUBE_SQUARE = _la.normal(size=(2, 3, 3)) + 3.0 * np.eye(3)


def _svd_invariants(a, **kw):
    """What the decomposition determines: the reconstruction, and u uᵀ of the leading singular vector."""
    u, s, vh = np.linalg.svd(a, **kw)
    k = s.shape[-1]
    return np.concatenate([np.ravel((u[..., :k] * s[..., None, :]) @ vh[..., :k, :]),
                           np.ravel(u[..., :1] @ np.swapaxes(u[..., :1], -1, -2)), np.ravel(s)])


def _null_projectors(a):
    """The full decomposition's extra columns and rows, as projectors (all they determine)."""
    u, _, vh = np.linalg.svd(a)
    k = min(a.shape[-2:])
    v = np.swapaxes(vh, -1, -2)
    return np.concatenate([np.ravel(u[..., k:] @ np.swapaxes(u[..., k:], -1, -2)),
                           np.ravel(v[..., k:] @ np.swapaxes(v[..., k:], -1, -2)), np.ravel(u[..., :k])])


def _eigh_invariants(a, **kw):
    w, v = np.linalg.eigh(a, **kw)
    return np.concatenate([w, np.ravel((v * w) @ v.T), np.ravel(np.outer(v[:, 0], v[:, 0]))])


def _qr_pieces(a, mode):
    q, r = np.linalg.qr(a, mode=mode)
    k = min(a.shape)
    return np.concatenate([np.ravel(q[:, :k]), np.ravel(q[:, k:] @ q[:, k:].T), np.ravel(r)])


def _lstsq_all(a, b, **kw):
    x, residuals, _, s = np.linalg.lstsq(a, b, **kw)
    return np.concatenate([np.ravel(x), residuals, s])


IMPLEMENTED += [
    ex(np.linalg.svd, "a full_matrices", lambda a: _svd_invariants(a, full_matrices=False), TALL),
    ex(np.linalg.svd, "a", _null_projectors, TALL),
    ex(np.linalg.svd, "a", _null_projectors, WIDE),
    ex(np.linalg.svd, "a", lambda a: _svd_invariants(a), CUBE_SQUARE),
    ex(np.linalg.svd, "compute_uv", lambda a: np.linalg.svd(a, compute_uv=False), WIDE),
    ex(np.linalg.svd, "hermitian", lambda a: _svd_invariants(a, hermitian=True), SKEWED),
    ex(np.linalg.svd, "compute_uv hermitian", lambda a: np.linalg.svd(a, compute_uv=False, hermitian=True),
       SKEWED),
    ex(np.linalg.eigh, "a", _eigh_invariants, SKEWED),
    ex(np.linalg.eigh, "UPLO", lambda a: _eigh_invariants(a, UPLO="U"), SKEWED.T),
    ex(np.linalg.eigvalsh, "a UPLO", lambda a: np.linalg.eigvalsh(a, UPLO="U"), SKEWED.T),
    ex(np.linalg.eigvalsh, "a", lambda a: np.linalg.eigvalsh(a), SKEWED),
    ex(np.linalg.cholesky, "a", lambda a: np.linalg.cholesky(a), SPD + np.triu(SKEWED, 1)),
    ex(np.linalg.cholesky, "upper", lambda a: np.linalg.cholesky(a, upper=True), SPD + np.tril(SKEWED, -1)),
    ex(np.linalg.qr, "a", lambda a: _qr_pieces(a, "reduced"), TALL),
    ex(np.linalg.qr, "mode", lambda a: _qr_pieces(a, "complete"), TALL),
    ex(np.linalg.qr, "mode", lambda a: _qr_pieces(a, "reduced"), X),
    ex(np.linalg.qr, "mode", lambda a: np.linalg.qr(a, mode="r"), TALL),
    ex(np.linalg.matrix_power, "a n", lambda a: np.linalg.matrix_power(a, 5), S),
    ex(np.linalg.matrix_power, "n", lambda a: np.linalg.matrix_power(a, -3), CUBE_SQUARE),
    ex(np.linalg.matrix_power, "n", lambda a: np.linalg.matrix_power(a, 0) + a, S),
    ex(np.linalg.lstsq, "a b", lambda a, b: _lstsq_all(a, b), TALL, B4),
    ex(np.linalg.lstsq, "rcond", lambda a, b: _lstsq_all(a, b, rcond=1e-8), TALL, np.c_[B4, B4 + 1.0]),
    ex(np.linalg.lstsq, "rcond", lambda a, b: _lstsq_all(a, b, rcond=0.5), TALL, B4),  # drops 0.7 < 0.5 * 3
    ex(np.linalg.lstsq, "a b", lambda a, b: _lstsq_all(a, b), WIDE, W),
    ex(np.linalg.cond, "x", lambda a: np.linalg.cond(a), TALL),
    *[ex(np.linalg.cond, "p", lambda a, p=p: np.linalg.cond(a, p), CUBE_SQUARE)
      for p in (2, -2, "fro", "nuc", 1, -1, np.inf, -np.inf)],
    ex(np.linalg.pinv, "a", lambda a: np.linalg.pinv(a), WIDE),
    ex(np.linalg.pinv, "rcond", lambda a: np.linalg.pinv(a, rcond=0.5), TALL),  # rank 2: 0.7 dropped
    ex(np.linalg.pinv, "hermitian", lambda a: np.linalg.pinv(a, hermitian=True), SKEWED),
    ex(np.linalg.pinv, "rtol", lambda a: np.linalg.pinv(a, rtol=None), CUBE_SQUARE),
    ex(np.linalg.pinv, "rtol", lambda a: np.linalg.pinv(a, rtol=0.3), TALL),
    ex(np.linalg.svdvals, "x", lambda a: np.linalg.svdvals(a), CUBE),
    ex(np.linalg.vector_norm, "x axis keepdims ord",
       lambda a: np.linalg.vector_norm(a, axis=(0, 2), keepdims=True, ord=3), CUBE),
    *[ex(np.linalg.vector_norm, "ord", lambda a, p=p: np.linalg.vector_norm(a, axis=-1, ord=p), X)
      for p in (1, -1, -2.5, 0, np.inf, -np.inf, 0.5)],
    ex(np.linalg.vector_norm, "axis", lambda a: np.linalg.vector_norm(a, axis=1), CUBE),
    ex(np.linalg.matrix_norm, "x keepdims ord", lambda a: np.linalg.matrix_norm(a, keepdims=True, ord="nuc"),
       CUBE),
    *[ex(np.linalg.matrix_norm, "ord", lambda a, p=p: np.linalg.matrix_norm(a, ord=p), CUBE)
      for p in (2, -2, 1, -1, np.inf, -np.inf, "fro")],
    *[ex(np.linalg.norm, "x ord axis keepdims", lambda a, p=p: np.linalg.norm(a, p, (2, 0), True), CUBE)
      for p in ("nuc", 2, -2, 1, -1, np.inf, -np.inf, "fro", "f")],
    *[ex(np.linalg.norm, "ord axis", lambda a, p=p: np.linalg.norm(a, p, axis=-1), X)
      for p in (0, -1, -np.inf, -2.5, np.inf, 1, 2, 0.5)],
    ex(np.linalg.norm, "ord", lambda a: np.linalg.norm(a, "nuc"), X),
    ex(np.linalg.norm, "ord", lambda a: np.linalg.norm(a, -np.inf), V),
    ex(np.linalg.trace, "x offset dtype", lambda a: np.linalg.trace(a, offset=1, dtype=np.float64), CUBE),
    ex(np.linalg.diagonal, "x offset", lambda a: np.linalg.diagonal(a, offset=-1), CUBE),
    ex(np.linalg.vecdot, "x1 x2 axis", lambda a, b: np.linalg.vecdot(a, b, axis=0), X, Y),
    ex(np.linalg.vecdot, "x1 x2", lambda a, b: np.linalg.vecdot(a, b), CUBE, V),
    ex(np.linalg.matmul, "x1 x2", lambda a, b: np.linalg.matmul(a, b), CUBE, X.T),
    ex(np.linalg.matrix_transpose, "x", lambda a: np.linalg.matrix_transpose(a) * 2.0, CUBE),
    *[ex(np.matrix_transpose, "x", lambda a: np.matrix_transpose(a) * a[..., ::-1, :].mT, CUBE)
      for _ in range(hasattr(np, "matrix_transpose"))],
    ex(np.linalg.outer, "x1 x2", lambda a, b: np.linalg.outer(a, b), V, W),
    ex(np.linalg.tensorinv, "a ind", lambda a: np.linalg.tensorinv(a, ind=1), S),
    ex(np.linalg.tensorinv, "a", lambda a: np.linalg.tensorinv(a), np.reshape(_la.normal(size=(6, 6)) + 4.0
                                                                              * np.eye(6), (2, 3, 6))),
    ex(np.linalg.tensorsolve, "a b axes", lambda a, b: np.linalg.tensorsolve(a, b, axes=(0,)),
       np.transpose(np.reshape(_la.normal(size=(6, 6)) + 4.0 * np.eye(6), (6, 2, 3)), (2, 0, 1)),
       X.ravel()[:6]),
    ex(np.linalg.tensorsolve, "a b", lambda a, b: np.linalg.tensorsolve(a, b),
       np.reshape(_la.normal(size=(6, 6)) + 4.0 * np.eye(6), (2, 3, 2, 3)), X[:2, :3]),
]
REFUSED += [
    ex(np.linalg.qr, "mode", lambda a: np.linalg.qr(a, mode="raw")[0], TALL),
    ex(np.linalg.qr, "mode", lambda a: np.linalg.qr(a, mode="economic"), TALL),  # (deprecated by NumPy)
]
AS_NUMPY_ERRORS += [
    ex(np.linalg.eigh, "UPLO", lambda a: np.linalg.eigh(a, UPLO="X"), SYM),
    ex(np.linalg.eigvalsh, "UPLO", lambda a: np.linalg.eigvalsh(a, UPLO="lower"), SYM),
    ex(np.linalg.qr, "mode", lambda a: np.linalg.qr(a, mode="full"), TALL),  # a DeprecationWarning
    ex(np.linalg.qr, "mode", lambda a: np.linalg.qr(a, mode="wrong"), TALL),
    ex(np.linalg.pinv, "rtol", lambda a: np.linalg.pinv(a, rcond=0.1, rtol=0.1), TALL),
    ex(np.linalg.matrix_power, "n", lambda a: np.linalg.matrix_power(a, 1.5), S),
    ex(np.linalg.matrix_power, "a", lambda a: np.linalg.matrix_power(a, 2), X),
    ex(np.linalg.norm, "ord", lambda a: np.linalg.norm(a, "nuc", axis=0), X),
    ex(np.linalg.norm, "ord", lambda a: np.linalg.norm(a, 3, axis=(0, 1)), X),
    ex(np.linalg.norm, "axis", lambda a: np.linalg.norm(a, axis=(0, 1, 2)), CUBE),
    ex(np.linalg.norm, "axis", lambda a: np.linalg.norm(a, axis=(1, 1)), X),
    ex(np.linalg.norm, "axis", lambda a: np.linalg.norm(a, axis=[0]), X),
    ex(np.linalg.lstsq, "b", lambda a, b: np.linalg.lstsq(a, b), TALL, W),
    ex(np.linalg.cond, "p", lambda a: np.linalg.cond(a, 1), X),
    ex(np.linalg.tensorinv, "ind", lambda a: np.linalg.tensorinv(a, ind=0), S),
    ex(np.linalg.outer, "x1", lambda a, b: np.linalg.outer(a, b), X, V),
]

# -- scipy.special (issue 13, item 7): its ufuncs take the ufunc keywords, checked as NumPy's --------
try:
    import scipy.special as special
except ImportError:  # SciPy is optional: without it, its functions are neither reachable nor tested
    special = None

if special is not None:
    IMPLEMENTED += [
        ex(UFUNC_CALL, "x1 x2", lambda a, b: special.xlogy(a, np.abs(b) + 0.5), X, Y),
        ex(UFUNC_CALL, "dtype order", lambda a: special.erf(a, dtype=np.float64, order="F"), X),
        ex(UFUNC_CALL, "casting", lambda a: special.gammaln(np.abs(a) + 0.5, casting="no"), X),
    ]
    REFUSED += [
        ex(UFUNC_CALL, "where", lambda a: special.expit(a, where=MASK), X),
        ex(UFUNC_CALL, "out", lambda a: special.erfc(a, out=np.empty((3, 4))), X),
        ex(UFUNC_CALL, "dtype", lambda a: special.log_ndtr(a, dtype=np.float32), X),
    ]

#: methods that refuse every call (they would lose the derivative), whatever the parameters
ALWAYS_REFUSED = {"item", "tolist"}

#: parameters owned by other work in progress: strict xfails, so the audit says when they land
DEFERRED: dict = {}


# -- NumPy's parameters ---------------------------------------------------------------------------


def _parameters_of_signature(params: list[inspect.Parameter]) -> list[str]:
    names = []
    for p in params:
        names.append(p.name if p.kind is not p.VAR_KEYWORD else "**" + p.name)
    return names


def numpy_function_parameters(func: Callable) -> list[str]:
    return _parameters_of_signature(list(inspect.signature(func).parameters.values()))


def docstring_parameters(doc: str) -> list[str]:
    """Parameter names of a C method from the signature line of its docstring: ``a.sum(axis=None, ...)``."""
    line = doc.strip().splitlines()[0]
    inside = line[line.index("(") + 1 : line.rindex(")")].replace("[", "").replace("]", "")
    inside = inside.replace("<no value>", "None")
    args = ast.parse(f"def f({inside}): pass").body[0].args
    names = [a.arg for a in args.posonlyargs + args.args]
    if args.vararg:
        names.append(args.vararg.arg)
    names += [a.arg for a in args.kwonlyargs]
    if args.kwarg:
        names.append("**" + args.kwarg.arg)
    return names


def ufunc_call_keywords() -> list[str]:
    """A call's parameters: the elementwise ufuncs' (``np.add``) and the generalized ones' (``np.matmul``)."""
    names = docstring_parameters(np.add.__doc__) + docstring_parameters(np.matmul.__doc__)
    return list(dict.fromkeys(names))


#: the ufunc keywords that clip's and ufunc.outer's ``**kwargs`` stand for
CALL_KEYWORDS = [n for n in docstring_parameters(np.add.__doc__) if n not in ("x1", "x2", "out")]


#: the keywords other functions' ``**kwargs`` stand for, as NumPy documents them
KWARGS_OF = {np.einsum: ["dtype", "order", "casting"],
             np.pad: ["stat_length", "constant_values", "end_values", "reflect_type"]}

#: NumPy's dispatch consumes ``like=`` (NEP 35): it picks the implementation and never reaches a handler
CONSUMED_BY_DISPATCH = {"like"}


def _expand_kwargs(names: list[str], keywords: list[str] = CALL_KEYWORDS) -> list[str]:
    """``**kwargs`` of clip / outer: the ufunc keywords, written ``kwargs:<name>`` (outer: the names)."""
    result = []
    for name in names:
        if name.startswith("**"):
            result += [f"{name[2:]}:{k}" for k in keywords]
        elif name not in CONSUMED_BY_DISPATCH:
            result.append(name)
    return result


def ndarray_methods() -> list[str]:
    """The ndarray methods ``ArrayOps`` defines (properties such as ``T`` have no parameters, and the
    attributes it marks missing none either)."""
    return sorted(name for name in numpy_bridge.NDARRAY_NAMES
                  if name in vars(ArrayOps) and callable(getattr(np.ndarray, name))
                  and not isinstance(vars(ArrayOps)[name], (property, MissingAttribute)))


def targets() -> dict[Any, list[str]]:
    """Every audited target and NumPy's parameters for it."""
    result: dict[Any, list[str]] = {}
    for func, handler in FUNCTIONS.items():
        if getattr(handler, "__wrapped__", None) is func:
            continue  # passed to NumPy itself on the primal values: audited by the test below
        result[func] = _expand_kwargs(numpy_function_parameters(func), KWARGS_OF.get(func, CALL_KEYWORDS))
    for name in ndarray_methods():
        if name in ALWAYS_REFUSED or getattr(vars(ArrayOps)[name], "__wrapped__", None) is not None:
            continue
        result[f"ndarray.{name}"] = _expand_kwargs(docstring_parameters(getattr(np.ndarray, name).__doc__))
    result[UFUNC_CALL] = ufunc_call_keywords()
    for key in UFUNC_METHODS:
        method, ufunc = key
        result[key] = _expand_kwargs(docstring_parameters(getattr(ufunc, method).__doc__))
    # ufunc.outer(A, B, /, **kwargs): the keywords of a call, out= included
    outer = [n.split(":")[-1] for n in _expand_kwargs(docstring_parameters(np.multiply.outer.__doc__))]
    result[("outer", np.multiply)] = outer[:2] + ["out"] + outer[2:]
    return result


# -- the audit ------------------------------------------------------------------------------------


def _covered(examples: list[Example]) -> set[tuple[Any, str]]:
    return {(e.target, p) for e in examples for p in e.params}


def test_every_parameter_is_implemented_or_refused():
    """Each NumPy parameter of each accepted function, method and keyword has an example, or this fails."""
    covered = _covered(IMPLEMENTED) | _covered(REFUSED) | set(DEFERRED)
    implemented_targets = {e.target for e in IMPLEMENTED}
    missing = []
    for target, names in targets().items():
        for name in names:
            required = name in _required(target)
            if (target, name) not in covered and not (required and target in implemented_targets):
                missing.append(f"{_target_name(target)}({name}=...)")
    assert not missing, (
        "parameters with neither an implemented example nor a refusal (add them to IMPLEMENTED or "
        "REFUSED in tests/test_parameters.py, after implementing or refusing them in adkit):\n  "
        + "\n  ".join(missing)
    )
    audited = targets()
    stale = {(t, p) for t, p in covered if p and (t not in audited or p not in audited[t])}
    assert not stale, f"examples for parameters NumPy does not have: {stale}"


def _required(target: Any) -> set[str]:
    """Parameters without a default (the array itself): any example of the target sets them."""
    if isinstance(target, (str, tuple)):
        return set()
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                  inspect.Parameter.VAR_POSITIONAL)
    return {p.name for p in inspect.signature(target).parameters.values()
            if p.default is p.empty and p.kind in positional}


def _handler_for(target: Any) -> Callable:
    if isinstance(target, tuple):
        return UFUNC_METHODS.get(target)
    if isinstance(target, str):
        return vars(ArrayOps)[target.removeprefix("ndarray.")]
    return FUNCTIONS[target]


@pytest.mark.parametrize("func", list(FUNCTIONS), ids=lambda f: f.__name__)
def test_each_handler_has_numpys_parameters_and_defaults(func):
    """A handler takes NumPy's parameters by NumPy's names and defaults, and swallows nothing else."""
    handler = FUNCTIONS[func]
    if getattr(handler, "__wrapped__", None) is func:
        return  # passes everything to NumPy
    ours = inspect.signature(handler).parameters
    theirs = inspect.signature(func).parameters
    assert list(ours) == list(theirs), f"{func.__name__}: {list(ours)} instead of NumPy's {list(theirs)}"
    for name, p in theirs.items():
        q = ours[name]
        assert q.kind == p.kind, f"{func.__name__}({name}): {q.kind} instead of {p.kind}"
        assert _same_default(q.default, p.default), f"{func.__name__}({name}={q.default!r}): {p.default!r}"


@pytest.mark.parametrize("name", ndarray_methods())
def test_each_method_has_numpys_parameters(name):
    """A method takes every parameter NumPy's method documents, by name, and no ``**kwargs`` NumPy lacks."""
    method = vars(ArrayOps)[name]
    if name in ALWAYS_REFUSED or getattr(method, "__wrapped__", None) is getattr(np.ndarray, name):
        return
    ours = [n for n in _parameters_of_signature(list(inspect.signature(method).parameters.values()))
            if n != "self"]
    theirs = docstring_parameters(getattr(np.ndarray, name).__doc__)
    if any((f"ndarray.{name}", p) in DEFERRED for p in theirs):
        return
    assert ours == theirs, f"ndarray.{name}: {ours} instead of NumPy's {theirs}"


@pytest.mark.parametrize("key", list(UFUNC_METHODS), ids=lambda k: f"{k[1].__name__}.{k[0]}")
def test_each_ufunc_method_has_numpys_parameters(key):
    method, ufunc = key
    ours = list(inspect.signature(UFUNC_METHODS[key]).parameters)
    assert ours == docstring_parameters(getattr(ufunc, method).__doc__)


def _same_default(a: Any, b: Any) -> bool:
    return a is b or (type(a) is type(b) and a == b)


# -- running the examples -------------------------------------------------------------------------


class Spy:
    """Records the arguments a handler, method or ufunc call received."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def wrap(self, handler: Callable, signature: inspect.Signature | None = None) -> Callable:
        sig = signature or inspect.signature(handler)

        def spied(*args: Any, **kwargs: Any) -> Any:
            bound = sig.bind(*args, **kwargs)
            self.calls.append({**bound.arguments, **bound.arguments.get("kwargs", {})})
            return handler(*args, **kwargs)

        return spied


def _set_by(call: dict[str, Any], name: str, signature: inspect.Signature | None) -> bool:
    key = name.split(":")[-1]
    if key not in call:
        return False
    if signature is not None and key in signature.parameters:
        default = signature.parameters[key].default
        value = call[key]
        if default is not inspect.Parameter.empty and not isinstance(value, (np.ndarray, Box)):
            return not _same_default(value, default) and not (isinstance(value, tuple) and not value)
    return True


def run_spied(example: Example, monkeypatch: pytest.MonkeyPatch) -> Spy:
    """Run ``example`` on Duals with a spy on its target; return the spy."""
    spy = Spy()
    target = example.target
    if target == UFUNC_CALL or isinstance(target, tuple):  # ufunc calls and methods: their keywords
        for module in (numpy_bridge, reverse):
            monkeypatch.setattr(module, "array_ufunc", spy.wrap(numpy_bridge.array_ufunc))
        # every call, keywords or not, through array_ufunc (no short path around the spy)
        monkeypatch.setattr(ArrayOps, "__array_ufunc__",
                            lambda self, u, m, *i, **k: numpy_bridge.array_ufunc(u, m, *i, **k))
    elif isinstance(target, str):
        name = target.removeprefix("ndarray.")
        monkeypatch.setattr(ArrayOps, name, spy.wrap(vars(ArrayOps)[name]))
    else:
        monkeypatch.setitem(FUNCTIONS, target, spy.wrap(FUNCTIONS[target]))
    duals = [adkit.Dual(a, np.zeros_like(a)) for a in example.args]
    with contextlib.suppress(Exception):  # a refused example: the caller checks the error itself
        example.fn(*duals)
    return spy


def _signature_of(target: Any) -> inspect.Signature | None:
    """The signature whose defaults tell whether an example sets a parameter (None: any value counts)."""
    if target == UFUNC_CALL or (isinstance(target, tuple) and target not in UFUNC_METHODS):
        return None
    return inspect.signature(_handler_for(target))


def assert_sets_its_parameters(example: Example, monkeypatch: pytest.MonkeyPatch) -> None:
    spy = run_spied(example, monkeypatch)
    assert spy.calls, f"{example!r}: the example never reached {_target_name(example.target)}"
    signature = _signature_of(example.target)
    through_ufunc = example.target == UFUNC_CALL or isinstance(example.target, tuple)
    for name in example.params:
        if through_ufunc and name in ("x1", "x2", "A", "B", "array"):
            continue  # the operands, not keywords
        assert any(_set_by(call, name, signature) for call in spy.calls), (
            f"{example!r} does not set {name}: calls {spy.calls}"
        )


def central_jacobian(fn: Callable, args: tuple, k: int, h: float = 1e-6) -> np.ndarray:
    x = np.asarray(args[k], dtype=float)
    out = np.asarray(fn(*args), dtype=float)
    jac = np.zeros(out.shape + x.shape)
    for idx in np.ndindex(x.shape):
        step = h * max(1.0, abs(float(x[idx])))
        plus, minus = x.copy(order="K"), x.copy(order="K")  # the same memory layout (order="A", "K")
        plus[idx] += step
        minus[idx] -= step
        hi = list(args)
        lo = list(args)
        hi[k], lo[k] = (plus, minus) if x.shape else (float(plus), float(minus))
        jac[(...,) + idx] = (np.asarray(fn(*hi)) - np.asarray(fn(*lo))) / (2 * step)
    return jac


@pytest.mark.parametrize("example", IMPLEMENTED, ids=repr)
def test_implemented_parameter_gives_numpys_value_and_derivative(example, monkeypatch):
    assert_sets_its_parameters(example, monkeypatch)
    monkeypatch.undo()
    fn, args = example.fn, example.args
    want = fn(*args)
    argnums = tuple(range(len(args)))
    value, _ = adkit.jvp(fn, args, tuple(np.zeros_like(a) for a in args))
    np.testing.assert_allclose(value, want, rtol=1e-12, atol=1e-12)
    assert np.shape(value) == np.shape(want)
    for mode in ("forward", "reverse"):
        jacobians = adkit.jacobian(fn, mode=mode, argnums=argnums)(*args)
        for k in argnums:
            expected = central_jacobian(fn, args, k)
            np.testing.assert_allclose(jacobians[k], expected, rtol=1e-6, atol=1e-7,
                                       err_msg=f"{example!r}, {mode} mode, d/d argument {k}")


@pytest.mark.parametrize("example", REFUSED, ids=repr)
@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_refused_parameter_is_named_in_the_error(example, mode, monkeypatch):
    if mode == "forward":
        assert_sets_its_parameters(example, monkeypatch)
        monkeypatch.undo()
    (name,) = example.params
    with pytest.raises(UnsupportedParameterError) as error:
        adkit.jacobian(example.fn, mode=mode, argnums=tuple(range(len(example.args))))(*example.args)
    assert f"{name.split(':')[-1]}=" in str(error.value)


@pytest.mark.parametrize("example", AS_NUMPY_ERRORS, ids=repr)
@pytest.mark.parametrize("box", [lambda a: adkit.Dual(a, np.zeros_like(a)), adkit.Var], ids=["Dual", "Var"])
def test_parameter_values_numpy_rejects_are_rejected_alike(example, box):
    with pytest.raises(Exception) as numpy_error:
        example.fn(*example.args)
    with pytest.raises(type(numpy_error.value)):
        example.fn(*(box(a) for a in example.args))


def test_deferred_parameters_are_still_deferred():
    """A tripwire: when astype declares NumPy's parameters, its entries move from DEFERRED to the examples."""
    for target in {t for t, _ in DEFERRED}:
        parameters = inspect.signature(_handler_for(target)).parameters.values()
        assert any(p.kind is p.VAR_KEYWORD for p in parameters), (
            f"{target} now declares its parameters: move its DEFERRED entries into IMPLEMENTED or REFUSED"
        )


# -- functions and methods that hand everything to NumPy on the primal values --------------------

PASSED_THROUGH = [
    (np.shape, lambda a: np.shape(a), X), (np.ndim, lambda a: np.ndim(a), X),
    (np.size, lambda a: np.size(a, 1), X),
    (np.result_type, lambda a: np.result_type(a, np.float32), X),
    (np.zeros_like, lambda a: np.zeros_like(a, dtype=int, order="F", subok=False, shape=(2,), device="cpu"),
     X),
    (np.ones_like, lambda a: np.ones_like(a, shape=(2, 2)), X),
    (np.empty_like, lambda a: np.empty_like(a, dtype=np.int8, shape=(0,)), X),
    (np.isclose, lambda a, b: np.isclose(a, b, rtol=0.5, atol=0.1, equal_nan=True), X, Y),
    (np.allclose, lambda a, b: np.allclose(a, b, 10.0, 3.0), X, Y),
    (np.array_equal, lambda a, b: np.array_equal(a, b, equal_nan=True), X, X),
    (np.argmax, lambda a: np.argmax(a, axis=1, keepdims=True), X),
    (np.argmin, lambda a: np.argmin(a, 0, out=np.empty(4, dtype=np.intp)), X),
    (np.argsort, lambda a: np.argsort(a, axis=0, kind="stable"), X),
    (np.iscomplexobj, lambda a: np.iscomplexobj(a), X), (np.isrealobj, lambda a: np.isrealobj(a), X),
    ("ndarray.argmax", lambda a: a.argmax(axis=0, keepdims=True), X),
    ("ndarray.argmin", lambda a: a.argmin(1, out=np.empty(3, dtype=np.intp)), X),
    ("ndarray.argsort", lambda a: a.argsort(axis=None, kind="stable"), X),
    ("ndarray.nonzero", lambda a: np.stack(a.nonzero()), X),
    ("ndarray.all", lambda a: a.all(axis=0, keepdims=True, where=MASK), X),
    ("ndarray.any", lambda a: a.any(1, keepdims=True, where=MASK), X),
]
PASSED_THROUGH += [  # issue 13: the order of a contraction, positions by rank
    (np.einsum_path, lambda a, b: str(np.einsum_path("ij,kj,kl", a, b, a, optimize="optimal")[0]), X, Y),
    (np.argpartition, lambda a: np.argpartition(a, 2, axis=1, kind="introselect"), X),
    ("ndarray.argpartition", lambda a: a.argpartition([0, 1], axis=0), X),
    (np.nanargmax, lambda a: np.nanargmax(np.where(MASK, a, np.nan), axis=1, keepdims=True), X),
    (np.nanargmin, lambda a: np.nanargmin(np.where(MASK, a, np.nan), 0), X),
    (np.searchsorted, lambda a, v: np.searchsorted(a, v, side="right", sorter=np.argsort(a)), V, W),
    ("ndarray.searchsorted", lambda a, v: np.sort(a).searchsorted(v, "right"), V, W),
]
PASSED_THROUGH += [  # issue 13: of real values, constants
    (np.iscomplex, lambda a: np.iscomplex(a), X), (np.isreal, lambda a: np.isreal(a), X),
    (np.angle, lambda a: np.angle(a, deg=True), X),
]
PASSED_THROUGH += [
    (np.linalg.matrix_rank, lambda a: np.linalg.matrix_rank(a, tol=0.5, hermitian=False, rtol=None), TALL),
]


def test_every_pass_through_is_to_numpy_itself_and_has_an_example():
    funcs = {f for f, h in FUNCTIONS.items() if getattr(h, "__wrapped__", None) is f}
    methods = {f"ndarray.{n}" for n in ndarray_methods()
               if getattr(vars(ArrayOps)[n], "__wrapped__", None) is getattr(np.ndarray, n)}
    assert funcs | methods == {entry[0] for entry in PASSED_THROUGH}


@pytest.mark.parametrize("entry", PASSED_THROUGH, ids=lambda e: _target_name(e[0]))
def test_pass_through_gives_numpys_constant_value(entry):
    _, fn, *args = entry
    want = fn(*args)
    for box in (lambda a: adkit.Dual(a, np.zeros_like(a)), lambda a: adkit.Var(a)):
        got = fn(*(box(a) if np.asarray(a).dtype.kind == "f" else a for a in args))
        assert not isinstance(got, Box)
        if entry[0] is not np.empty_like:
            np.testing.assert_array_equal(got, want)
        assert np.shape(got) == np.shape(want)


def test_a_traced_out_is_refused_by_the_pass_through_functions():
    x = adkit.Dual(X, np.zeros_like(X))
    with pytest.raises(UnsupportedParameterError, match="out="):
        np.round(x, out=x)
    with pytest.raises(UnsupportedParameterError, match="out="):
        x.round(out=x)


# -- ndarray attributes a traced value lacks ----------------------------------------------------


@pytest.mark.parametrize("name", sorted(numpy_bridge.NDARRAY_NAMES))
@pytest.mark.parametrize("box", [lambda a: adkit.Dual(a, np.zeros_like(a)), adkit.Var], ids=["Dual", "Var"])
def test_every_ndarray_attribute_is_there_or_says_what_to_do(name, box):
    x = box(X)
    if name in vars(ArrayOps) or hasattr(type(x), name):
        return
    with pytest.raises(AttributeError) as error:
        getattr(x, name)
    message = str(error.value)
    assert repr(name) in message and "adkit" in message
    assert "primal(x)" in message or "immutable" in message
    assert not hasattr(x, name)  # hasattr and getattr(x, name, default) still work


def test_other_missing_attributes_are_plain_attribute_errors():
    x = adkit.Var(X)
    assert getattr(x, "_repr_html_", None) is None
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        _ = x.nonsense


# -- every ufunc of NumPy: a rule, a constant, or refused ------------------------------------------

ALL_UFUNCS = sorted({f for f in vars(np).values() if isinstance(f, np.ufunc)}, key=lambda u: u.__name__)


def _sample(ufunc: np.ufunc, seed: int, size: int = 40) -> list[np.ndarray]:
    """Operands from the rule's declared domain (away from jumps and poles), else from +-[0.3, 0.9]."""
    op = numpy_bridge.UFUNCS.get(ufunc)
    op = adkit.remainder if ufunc is np.divmod else op
    local = np.random.default_rng(seed)
    domain = getattr(op, "domain", None) or [((-0.9, -0.3), (0.3, 0.9))] * ufunc.nin
    operands = []
    for intervals in domain:
        pick = local.integers(len(intervals), size=size)
        lows, highs = np.array(intervals)[pick].T
        operands.append(lows + (highs - lows) * local.random(size))
    return operands


def _outputs(result: Any) -> tuple[Any, ...]:
    return result if type(result) is tuple else (result,)


@pytest.mark.parametrize("ufunc", ALL_UFUNCS, ids=lambda u: u.__name__)
def test_every_numpy_ufunc_has_a_rule_is_piecewise_constant_or_is_refused(ufunc):
    """A ufunc NumPy adds later lands in one of the three, never silently in none."""
    if ufunc.signature is not None:  # matmul, vecdot, matvec, vecmat: test_generalized_ufuncs
        assert ufunc in numpy_bridge.UFUNCS
        return
    operands = _sample(ufunc, seed=len(ufunc.__name__))
    duals = [adkit.Dual(x, np.zeros_like(x)) for x in operands]
    if ufunc in numpy_bridge.UFUNCS:
        for got, want in zip(_outputs(ufunc(*duals)), _outputs(ufunc(*operands))):
            np.testing.assert_allclose(adkit.primal(got), want, rtol=1e-15)
        for k in range(ufunc.nin):  # elementwise: the diagonal of the Jacobian, against central differences
            step = 1e-6 * np.maximum(1.0, np.abs(operands[k]))
            hi, lo = list(operands), list(operands)
            hi[k], lo[k] = operands[k] + step, operands[k] - step
            tangents = [np.ones_like(x) if i == k else np.zeros_like(x) for i, x in enumerate(operands)]
            _, tangent = adkit.jvp(lambda *xs: _outputs(ufunc(*xs))[-1], tuple(operands), tuple(tangents))
            central = (_outputs(ufunc(*hi))[-1] - _outputs(ufunc(*lo))[-1]) / (2 * step)
            np.testing.assert_allclose(tangent, central, rtol=1e-6, atol=1e-8,
                                       err_msg=f"{ufunc.__name__}, operand {k}")
    elif ufunc in numpy_bridge.CONSTANT_UFUNCS:
        got = ufunc(*duals)
        assert not isinstance(got, Box)
        np.testing.assert_array_equal(got, ufunc(*operands))
        for k in range(ufunc.nin):  # constant between its jumps: central differences vanish
            step = 1e-6 * np.maximum(1.0, np.abs(operands[k]))
            hi, lo = list(operands), list(operands)
            hi[k], lo[k] = operands[k] + step, operands[k] - step
            above, below = (np.asarray(ufunc(*xs), dtype=float) for xs in (hi, lo))
            np.testing.assert_array_equal(above, below, err_msg=f"{ufunc.__name__} varies with operand {k}")
    else:
        with pytest.raises(NotImplementedError, match=rf"no derivative rule for numpy\.{ufunc.__name__}\b"):
            ufunc(*duals)


def test_a_ufunc_in_place_or_by_segments_is_refused():
    x = adkit.Var(X)
    with pytest.raises(UnsupportedParameterError, match=r"numpy\.add\.at changes an array in place"):
        np.add.at(x, [0], 1.0)
    with pytest.raises(NotImplementedError, match=r"no derivative rule for numpy\.add\.reduceat"):
        np.add.reduceat(x, [0, 2])
    with pytest.raises(NotImplementedError, match=r"no derivative rule for numpy\.subtract\.accumulate"):
        np.subtract.accumulate(x)



#: the generalized ufuncs (signatures over vectors and matrices), with operands of stacked shapes
GUFUNC_OPERANDS = {"matmul": ((2, 3, 4), (4, 2)), "vecdot": ((2, 3, 4), (3, 4)), "matvec": ((2, 3, 4), (4,)),
                   "vecmat": ((3,), (2, 3, 4))}
#: each one's core axes, as its axes= keyword names them (adkit refuses axes=)
GUFUNC_AXES = {"matmul": [(-2, -1)] * 3, "vecdot": [(-1,), (-1,), ()], "matvec": [(-2, -1), (-1,), (-1,)],
               "vecmat": [(-1,), (-2, -1), (-1,)]}


@pytest.mark.parametrize("ufunc", [u for u in ALL_UFUNCS if u.signature], ids=lambda u: u.__name__)
def test_generalized_ufuncs_give_numpys_values_and_derivatives(ufunc):
    local = np.random.default_rng(3)
    operands = tuple(local.normal(size=shape) for shape in GUFUNC_OPERANDS[ufunc.__name__])
    for mode in ("forward", "reverse"):
        value = adkit.primal(ufunc(*(adkit.Var(x) for x in operands)))
        np.testing.assert_allclose(value, ufunc(*operands), rtol=1e-13)
        jacobians = adkit.jacobian(ufunc, mode=mode, argnums=(0, 1))(*operands)
        for k in (0, 1):
            want = central_jacobian(ufunc, operands, k)
            np.testing.assert_allclose(jacobians[k], want, rtol=1e-6, atol=1e-8)
    ufunc(*operands, axes=GUFUNC_AXES[ufunc.__name__])  # NumPy takes these axes ...
    with pytest.raises(UnsupportedParameterError, match="axes="):  # ... and adkit refuses them by name
        ufunc(*(adkit.Var(x) for x in operands), axes=GUFUNC_AXES[ufunc.__name__])


# -- every ufunc of scipy.special: a rule, or refused ---------------------------------------------

SPECIAL_UFUNCS = sorted({f for f in vars(special).values() if isinstance(f, np.ufunc)},
                        key=lambda u: u.__name__) if special is not None else []


@pytest.mark.parametrize("ufunc", SPECIAL_UFUNCS, ids=lambda u: u.__name__)
def test_every_scipy_special_ufunc_has_a_rule_or_is_refused(ufunc):
    """scipy.special's ufuncs reach adkit by NumPy's protocol: each has a rule or names itself refused."""
    op = numpy_bridge.special_rule(ufunc)
    if op is None:
        duals = [adkit.Dual(np.full(3, 0.5), np.ones(3)) for _ in range(ufunc.nin)]
        refused = rf"no derivative rule for scipy\.special\.{ufunc.__name__}\b"
        with pytest.raises(NotImplementedError, match=refused):
            ufunc(*duals)
        return
    local = np.random.default_rng(len(ufunc.__name__))
    operands = []
    for intervals in op.domain:
        lows, highs = np.array(intervals)[local.integers(len(intervals), size=40)].T
        operands.append(lows + (highs - lows) * local.random(40))
    for box in (lambda x: adkit.Dual(x, np.zeros_like(x)), adkit.Var):
        np.testing.assert_array_equal(adkit.primal(ufunc(*(box(x) for x in operands))), ufunc(*operands))
    for k in range(ufunc.nin):  # elementwise: the diagonal of the Jacobian, against central differences
        step = 1e-6 * np.maximum(1.0, np.abs(operands[k]))
        hi, lo = list(operands), list(operands)
        hi[k], lo[k] = operands[k] + step, operands[k] - step
        tangents = tuple(np.ones_like(x) if i == k else np.zeros_like(x) for i, x in enumerate(operands))
        _, tangent = adkit.jvp(ufunc, tuple(operands), tangents)
        np.testing.assert_allclose(tangent, (ufunc(*hi) - ufunc(*lo)) / (2 * step), rtol=1e-6, atol=1e-8,
                                   err_msg=f"scipy.special.{ufunc.__name__}, operand {k}")


@pytest.mark.skipif(special is None, reason="SciPy is not installed")
def test_the_special_functions_issue_13_asks_for_have_rules():
    for name in ("erf", "erfc", "expit", "logit", "gammaln", "digamma", "xlogy", "log_ndtr"):
        assert numpy_bridge.special_rule(getattr(special, name)) is numpy_bridge.SPECIAL_UFUNCS[name], name


def test_adkit_never_imports_scipy_itself():
    """Without scipy.special in sys.modules no rule is looked up: a user's own import brings it."""
    code = ("import sys, adkit, numpy as np; adkit.grad(lambda x: np.linalg.norm(x, 'nuc'))(np.eye(2)); "
            "print(*sys.modules)")
    modules = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert not [name for name in modules.split() if name == "scipy" or name.startswith("scipy.")]
