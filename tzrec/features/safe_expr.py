"""Arithmetic expressions from configs, evaluated over whole columns.

``Expression("log(x+3)")`` parses the text with :mod:`ast` and keeps only a
whitelist: numbers, the named variables, ``+ - * / // % **``, unary ``-``/``+``,
comparisons (``< <= > >= == !=``, giving 1.0 or 0.0; chains like
``0 < x < 1`` too) and the functions in ``FUNCTIONS``. Anything else
(attributes, subscripts, strings, other names or calls) is a ConfigError
naming the construct. Python's ``eval`` is never used: the tree is walked.

Evaluation is vectorised: each variable is a numpy array (or a torch tensor,
with ``backend="torch"``) and every operation applies to the whole column at
once, in float64 for numpy. Out-of-domain values follow IEEE rules
(``log(-1)`` is NaN, ``1/0`` is inf) without warnings.

Used by the raw/lookup ``normalizer: "method=expression,expr=..."`` and
meant for TorchEasyRec's ``expr_feature`` too.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable
from typing import Any, cast

import numpy as np

from tzrec.utils.errors import ConfigError

MAX_LENGTH = 1000
MAX_NODES = 200

# name -> (numpy function, torch function name, number of arguments; -1: 1+)
FUNCTIONS: dict[str, tuple[Callable[..., Any], str, int]] = {
    "log": (np.log, "log", 1),
    "log1p": (np.log1p, "log1p", 1),
    "log2": (np.log2, "log2", 1),
    "log10": (np.log10, "log10", 1),
    "exp": (np.exp, "exp", 1),
    "sqrt": (np.sqrt, "sqrt", 1),
    "abs": (np.abs, "abs", 1),
    "sign": (np.sign, "sign", 1),
    "floor": (np.floor, "floor", 1),
    "ceil": (np.ceil, "ceil", 1),
    "sigmoid": (lambda v: 1.0 / (1.0 + np.exp(-v)), "sigmoid", 1),
    "tanh": (np.tanh, "tanh", 1),
    "min": (np.minimum, "minimum", -1),
    "max": (np.maximum, "maximum", -1),
    "pow": (np.power, "pow", 2),
    "ln": (np.log, "log", 1),
    "sin": (np.sin, "sin", 1),
    "cos": (np.cos, "cos", 1),
    "tan": (np.tan, "tan", 1),
    "asin": (np.arcsin, "asin", 1),
    "acos": (np.arccos, "acos", 1),
    "atan": (np.arctan, "atan", 1),
    "sinh": (np.sinh, "sinh", 1),
    "cosh": (np.cosh, "cosh", 1),
    "asinh": (np.arcsinh, "asinh", 1),
    "acosh": (np.arccosh, "acosh", 1),
    "atanh": (np.arctanh, "atanh", 1),
    "rint": (np.rint, "round", 1),
    "trunc": (np.trunc, "trunc", 1),
}
_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}
_COMPARE = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_FIX = "use numbers, the variables, + - * / // % **, comparisons and " + ", ".join(
    FUNCTIONS
)


class Expression:
    """A parsed, whitelisted arithmetic expression over named variables.

    Args:
        text: the expression, e.g. ``"log(x+3)"`` or ``"min(x, 100) / 100"``.
        variables: the names it may use.
        where: config path for errors.

    Raises:
        ConfigError: a syntax error, an unknown name or function, a wrong
            number of arguments, or a construct outside the whitelist.
    """

    def __init__(self, text: str, variables: tuple[str, ...] = ("x",), where: str = ""):
        self.text = text
        self.variables = tuple(variables)
        self._where = where
        if not text.strip():
            raise ConfigError("empty expression", where, "e.g. expr=log(x+1)")
        if len(text) > MAX_LENGTH:
            raise ConfigError(
                f"expression longer than {MAX_LENGTH} characters", where, "shorten it"
            )
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as e:
            raise ConfigError(
                f'expression "{text}" does not parse: {e.msg}', where, _FIX
            ) from None
        if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
            raise ConfigError(
                f"expression has more than {MAX_NODES} parts", where, "simplify it"
            )
        self._check(tree.body)
        self._tree = tree.body
        self.used = sorted(
            {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - set(FUNCTIONS)
        )

    def _fail(self, what: str) -> ConfigError:
        return ConfigError(f'expression "{self.text}": {what}', self._where, _FIX)

    def _check(self, node: ast.AST) -> None:
        """Rejects every node outside the whitelist, before anything runs."""
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise self._fail(f"constant {node.value!r} is not a number")
        elif isinstance(node, ast.Name):
            if node.id not in self.variables:
                valid = ", ".join(self.variables)
                raise self._fail(f'unknown name "{node.id}" (variables: {valid})')
        elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            self._check(node.left)
            self._check(node.right)
        elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            self._check(node.operand)
        elif isinstance(node, ast.Compare) and all(
            type(op) in _COMPARE for op in node.ops
        ):
            for part in [node.left, *node.comparators]:
                self._check(part)
        elif isinstance(node, ast.Call):
            self._check_call(node)
        elif isinstance(node, ast.IfExp):
            for part in (node.test, node.body, node.orelse):
                self._check(part)
        elif isinstance(node, ast.BoolOp):
            for part in node.values:
                self._check(part)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            self._check(node.operand)
        else:
            raise self._fail(f"{type(node).__name__} is not allowed")

    def _check_call(self, node: ast.Call) -> None:
        if not isinstance(node.func, ast.Name):
            raise self._fail(f"calling {type(node.func).__name__} is not allowed")
        if node.func.id not in FUNCTIONS:
            raise self._fail(f'unknown function "{node.func.id}"')
        if node.keywords:
            raise self._fail(f"{node.func.id}() takes no keyword arguments")
        arity = FUNCTIONS[node.func.id][2]
        n = len(node.args)
        if (arity == -1 and n < 1) or (arity > 0 and n != arity):
            want = "one or more" if arity == -1 else str(arity)
            raise self._fail(f"{node.func.id}() takes {want} argument(s), got {n}")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self._fail("*arguments are not allowed")
            self._check(arg)

    def __call__(self, backend: str = "numpy", **values: Any) -> Any:
        """Evaluates over whole columns.

        Args:
            backend: ``"numpy"`` (arrays, computed in float64) or ``"torch"``
                (tensors, in their floating dtype).
            **values: one array or tensor per variable the expression uses.

        Returns:
            An array (tensor) broadcast from the inputs.

        Raises:
            KeyError: a variable the expression uses was not given.
        """
        if backend == "torch":
            import torch

            tensors = {k: torch.as_tensor(v) for k, v in values.items()}
            tensors = {
                k: v if v.is_floating_point() else v.double()
                for k, v in tensors.items()
            }
            return self._eval(self._tree, tensors, torch)
        arrays = {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}
        with np.errstate(all="ignore"):
            out = np.asarray(self._eval(self._tree, arrays, None), dtype=np.float64)
        shape = np.broadcast_shapes(*(v.shape for v in arrays.values()))
        return out if out.shape == shape else np.broadcast_to(out, shape).copy()

    def _eval(self, node: ast.AST, env: dict[str, Any], torch: Any) -> Any:
        if isinstance(node, ast.Constant):  # _check admitted int and float only
            return float(cast("int | float", node.value))
        if isinstance(node, ast.Name):
            return env[node.id]
        if isinstance(node, ast.BinOp):
            left = self._eval(node.left, env, torch)
            right = self._eval(node.right, env, torch)
            return _BINARY[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp):
            operand = self._eval(node.operand, env, torch)
            if isinstance(node.op, ast.Not):
                return _as_float(operand == 0, torch)
            return _UNARY[type(node.op)](operand)
        if isinstance(node, ast.IfExp):
            test = self._eval(node.test, env, torch)
            body = self._eval(node.body, env, torch)
            orelse = self._eval(node.orelse, env, torch)
            if torch is not None:
                as_t = [
                    torch.as_tensor(v, dtype=torch.float64)
                    for v in (test, body, orelse)
                ]
                return torch.where(as_t[0] != 0, as_t[1], as_t[2])
            return np.where(np.asarray(test) != 0, body, orelse)
        if isinstance(node, ast.BoolOp):
            parts = [self._eval(v, env, torch) != 0 for v in node.values]
            out = parts[0]
            for part in parts[1:]:
                out = (out & part) if isinstance(node.op, ast.And) else (out | part)
            return _as_float(out, torch)
        if isinstance(node, ast.Compare):
            return self._compare(node, env, torch)
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        fn_np, fn_torch, arity = FUNCTIONS[node.func.id]
        args = [self._eval(a, env, torch) for a in node.args]
        if torch is not None:
            args = [
                a
                if isinstance(a, torch.Tensor)
                else torch.tensor(a, dtype=torch.float64)
                for a in args
            ]
            fn = getattr(torch, fn_torch)
        else:
            fn = fn_np
        out = args[0]
        if arity == -1:  # min/max: fold pairwise
            for a in args[1:]:
                out = fn(out, a)
            return out
        return fn(*args)

    def _compare(self, node: ast.Compare, env: dict[str, Any], torch: Any) -> Any:
        left = self._eval(node.left, env, torch)
        result = None
        for op, comp in zip(node.ops, node.comparators):
            right = self._eval(comp, env, torch)
            step = _COMPARE[type(op)](left, right)
            result = step if result is None else result & step
            left = right
        if torch is not None:
            return torch.as_tensor(result).double()
        return np.asarray(result, dtype=np.float64)


def _as_float(mask: Any, torch: Any) -> Any:
    """A boolean result as 1.0 / 0.0."""
    if torch is not None:
        return torch.as_tensor(mask).double()
    return np.asarray(mask, dtype=np.float64)


def from_c_style(text: str) -> str:
    """TorchEasyRec's (muparser, C-style) expression text in Python syntax.

    ``c ? a : b`` becomes ``(a) if (c) else (b)``, ``&&`` / ``||`` / ``!``
    become ``and`` / ``or`` / ``not``, and ``^`` becomes ``**``. The result
    still goes through :class:`Expression`'s whitelist.
    """
    text = text.replace("&&", " and ").replace("||", " or ").replace("^", "**")
    text = re.sub(r"!(?!=)", " not ", text)
    return _ternary(text)


def _ternary(s: str) -> str:
    out, i = [], 0
    while i < len(s):
        if s[i] == "(":
            j = _closing(s, i)
            args = _split_top(s[i + 1 : j], ",")
            out.append("(" + ",".join(_ternary(a) for a in args) + ")")
            i = j + 1
        else:
            out.append(s[i])
            i += 1
    s = "".join(out)
    q = _top_index(s, "?")
    if q < 0:
        return s
    nest, colon = 0, -1
    for k in range(q + 1, len(s)):
        if s[k] == "?":
            nest += 1
        elif s[k] == ":":
            if nest == 0:
                colon = k
                break
            nest -= 1
    if colon < 0:
        return s  # left for the parser to report
    cond, a, b = s[:q], s[q + 1 : colon], s[colon + 1 :]
    return f"({_ternary(a)}) if ({cond}) else ({_ternary(b)})"


def _closing(s: str, i: int) -> int:
    depth = 0
    for k in range(i, len(s)):
        depth += {"(": 1, ")": -1}.get(s[k], 0)
        if depth == 0:
            return k
    return len(s) - 1


def _top_index(s: str, ch: str) -> int:
    depth = 0
    for k, c in enumerate(s):
        depth += {"(": 1, ")": -1}.get(c, 0)
        if c == ch and depth == 0:
            return k
    return -1


def _split_top(s: str, sep: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for k, c in enumerate(s):
        depth += {"(": 1, ")": -1}.get(c, 0)
        if c == sep and depth == 0:
            parts.append(s[start:k])
            start = k + 1
    return parts + [s[start:]]
