"""Whitelisted expressions: values over whole columns, and what is refused."""

import ast
import inspect

import numpy as np
import pyarrow as pa
import pytest
import torch

import tzrec.features.safe_expr as safe_expr
from tests.unit.features.helpers import feature
from tzrec.features.normalizer import parse_normalizer
from tzrec.features.safe_expr import Expression, from_c_style
from tzrec.utils.errors import ConfigError

X = np.array([-3.0, -1.0, 0.0, 0.5, 2.0, 20753726.0, 5e9])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("log(x+3)", lambda x: np.log(x + 3)),
        ("log1p(abs(x))", lambda x: np.log1p(np.abs(x))),
        ("exp(-x*x/2)", lambda x: np.exp(-x * x / 2)),
        ("sqrt(max(x, 0))", lambda x: np.sqrt(np.maximum(x, 0))),
        ("min(x, 1, 2*x)", lambda x: np.minimum(np.minimum(x, 1), 2 * x)),
        ("(x > 0) * x - (x <= 0)", lambda x: (x > 0) * x - (x <= 0)),
        ("0 < x < 1", lambda x: ((0 < x) & (x < 1)).astype(float)),
        ("x ** 2 % 7 // 2", lambda x: x**2 % 7 // 2),
        ("-x + +1.5e0", lambda x: -x + 1.5),
        ("sign(x) * log10(abs(x) + 1)", lambda x: np.sign(x) * np.log10(np.abs(x) + 1)),
        ("3", lambda x: np.full_like(x, 3.0)),
    ],
)
def test_values_match_numpy_over_the_whole_column(text, expected):
    with np.errstate(all="ignore"):
        want = expected(X)
    got = Expression(text)(x=X)
    assert got.shape == X.shape
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_out_of_domain_values_follow_ieee_without_warnings():
    with np.testing.assert_no_warnings():
        out = Expression("log(x) + 1/x")(x=np.array([-1.0, 0.0]))
    assert np.isnan(out[0]) and np.isnan(out[1])  # log(0) + inf = -inf + inf


def test_torch_backend_matches_numpy():
    text = "max(log(x+3), 0) + sqrt(abs(x)) * (x >= 0.5) + min(x, 2) ** 2"
    expr = Expression(text)
    got = expr(backend="torch", x=torch.tensor(X))
    assert isinstance(got, torch.Tensor)
    np.testing.assert_allclose(got.numpy(), expr(x=X), rtol=1e-12)


def test_several_variables():
    expr = Expression("pv / (1 + click)", ("pv", "click"))
    assert expr.used == ["click", "pv"]
    out = expr(pv=np.array([10.0, 3.0]), click=np.array([1.0, 0.0]))
    np.testing.assert_allclose(out, [5.0, 3.0])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os').system('echo hi')", "calling Attribute is not allowed"),
        ("open('secret')", 'unknown function "open"'),
        ("eval('1')", 'unknown function "eval"'),
        ("x.real", "Attribute is not allowed"),
        ("x[0]", "Subscript is not allowed"),
        ("'text'", "is not a number"),
        ("True", "is not a number"),
        ("lambda: 1", "Lambda is not allowed"),
        ("[x for x in ()]", "ListComp is not allowed"),
        ("x is 1", "Compare is not allowed"),
        ("{x: 1}", "Dict is not allowed"),
        ("y + 1", 'unknown name "y"'),
        ("log(x, 2)", r"log\(\) takes 1 argument"),
        ("max()", r"max\(\) takes one or more"),
        ("log(x=1)", "no keyword arguments"),
        ("log(*x)", r"\*arguments are not allowed"),
        ("x @ x", "BinOp is not allowed"),
        ("log(x+", "does not parse"),
        ("", "empty expression"),
        ("x+" * 600 + "x", "longer than"),
        ("+".join(["x"] * 150), "more than 200 parts"),
    ],
)
def test_refused(text, message):
    with pytest.raises(ConfigError, match=message):
        Expression(text, ("x",), "feature_configs[0].raw_feature.normalizer")


def test_the_evaluator_never_calls_eval_exec_or_compile():
    tree = ast.parse(inspect.getsource(safe_expr))
    called = {
        n.func.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    assert not called & {"eval", "exec", "compile", "__import__"}


def test_expression_normalizer_keeps_commas_and_wide_integers():
    norm = parse_normalizer("method=expression,expr=min(x, 100) / 100", "n")
    np.testing.assert_allclose(norm(np.array([50, 500])), [0.5, 1.0])
    big = parse_normalizer("method=expression,expr=x - 20753700", "n")
    # float64 inside: an int64 count beyond 2^24 keeps its last digits.
    assert big(np.array([20753726], dtype=np.int64)).tolist() == [26.0]
    with pytest.raises(ConfigError, match="unknown normalizer key"):
        parse_normalizer("method=expression,scale=2,expr=x", "n")
    with pytest.raises(ConfigError, match="needs expr"):
        parse_normalizer("method=expression", "n")


def test_raw_feature_with_torcheasyrec_expression_normalizer():
    f = feature(
        'raw_feature { feature_name: "x" '
        'normalizer: "method=expression,expr=log(x+3)" }'
    )
    out = f.encode_dense({"x": pa.array([0, 7, None, 997], pa.int64())})
    # missing -> default_value 0 -> log(3)
    np.testing.assert_allclose(out[:, 0], np.log([3.0, 10.0, 3.0, 1000.0]), rtol=1e-6)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("x == y ? 1 : 0", [0.0, 1.0, 0.0]),
        ("x > 1 && y > 1 ? x^2 : -1", [-1.0, 4.0, -1.0]),
        ("x < 2 || !(y < 3) ? max(x, y) : 0", [2.0, 0.0, 0.0]),
        ("x > 2 ? 3 : x > 1 ? 2 : 1", [1.0, 2.0, 3.0]),
        ("max(x > 1 ? x : 0, 1)", [1.0, 2.0, 3.0]),
        ("_pi * 0 + x", [1.0, 2.0, 3.0]),
    ],
)
def test_torcheasyrec_c_style_expressions(text, want):
    expr = Expression(from_c_style(text), ("x", "y", "_pi"), "expr_feature")
    out = expr(x=np.array([1.0, 2.0, 3.0]), y=np.array([2.0, 2.0, 1.0]), _pi=np.pi)
    np.testing.assert_allclose(out, want)
