"""Calculator tool: a bounded arithmetic evaluator on top of `simpleeval`, safe against hostile input.

`evaluate` accepts numbers, ``+ - * / // % **`` (``^`` is read as power, never XOR), parentheses,
unary signs, a whitelist of math functions and the constants ``pi`` and ``e``. Every expression is
parsed and checked against that whitelist before `simpleeval` runs it, and every intermediate value is
kept finite and within ``±1e308`` (integers included), so no input can allocate a huge integer or
spin the CPU: ``9**9**9`` is refused from an estimate of its size before anything is computed. Errors
come back in `CalcResult.error`; `evaluate` never raises.

Pulling the expression out of a question is ``expression.py``'s.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import simpleeval

MAX_EXPRESSION_CHARS = 500
MAX_MAGNITUDE = 1e308  # every intermediate and final value, int or float, stays within ±MAX_MAGNITUDE
MAX_DEPTH = 60  # nesting depth of the parsed expression
MAX_ROUND_DIGITS = 308

Number = int | float


class CalcError(Exception):
    """A refusal with a message meant for the user."""


@dataclass(frozen=True, slots=True)
class CalcResult:
    expression: str
    value: float | int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


# --- bounded arithmetic -------------------------------------------------------------------------------


def _check(value: Any) -> Number:
    """Accept a real, finite number within ±MAX_MAGNITUDE; refuse anything else."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        if abs(value) > MAX_MAGNITUDE:  # exact int/float comparison, no overflow
            raise CalcError("result too large (the limit is 1e308)")
        return value
    if isinstance(value, float):
        if math.isnan(value):
            raise CalcError("result is not a number")
        if math.isinf(value) or abs(value) > MAX_MAGNITUDE:
            raise CalcError("result too large (the limit is 1e308)")
        return value
    if isinstance(value, complex):
        raise CalcError("result is not a real number")
    raise CalcError(f"unsupported value of type {type(value).__name__}")


def _power(base: Number, exponent: Number) -> Number:
    """``base ** exponent``, refusing results beyond the limit before computing them."""
    if isinstance(base, int) and isinstance(exponent, int) and exponent >= 0:
        if abs(base) > 1 and exponent * math.log10(abs(base)) > math.log10(MAX_MAGNITUDE) + 1e-9:
            raise CalcError("result too large (the limit is 1e308)")
        return _check(base**exponent)
    try:
        return _check(math.pow(base, exponent))
    except OverflowError:
        raise CalcError("result too large (the limit is 1e308)") from None
    except ValueError:
        if base == 0 and exponent < 0:
            raise ZeroDivisionError("division by zero") from None
        raise CalcError("result is not a real number") from None


def _binary(fn: Callable[[Any, Any], Any]) -> Callable[[Number, Number], Number]:
    def op(a: Number, b: Number) -> Number:
        return _check(fn(a, b))

    return op


_OPERATORS: dict[type, Callable[..., Number]] = {
    ast.Add: _binary(operator.add),
    ast.Sub: _binary(operator.sub),
    ast.Mult: _binary(operator.mul),
    ast.Div: _binary(operator.truediv),
    ast.FloorDiv: _binary(operator.floordiv),
    ast.Mod: _binary(operator.mod),
    ast.Pow: _power,
    ast.USub: lambda a: _check(-a),
    ast.UAdd: lambda a: _check(+a),
}

_OPERATOR_SYMBOLS = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
    ast.BitXor: "^",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.MatMult: "@",
    ast.Invert: "~",
    ast.Not: "not",
}


def _log(x: Number, base: Number | None = None) -> float:
    return math.log(x) if base is None else math.log(x, base)


def _round(x: Number, ndigits: Number | None = None) -> Number:
    if ndigits is None:
        return round(x)
    if not isinstance(ndigits, int) or abs(ndigits) > MAX_ROUND_DIGITS:
        # round(5, -10**8) would build 10**(10**8): the digit count is bounded
        raise CalcError(
            f"round() digits must be an integer between -{MAX_ROUND_DIGITS} and {MAX_ROUND_DIGITS}"
        )
    return round(x, ndigits)


def _min(*args: Number) -> Number:
    if not args:
        raise CalcError("min() needs at least one argument")
    return min(args)


def _max(*args: Number) -> Number:
    if not args:
        raise CalcError("max() needs at least one argument")
    return max(args)


def _function(fn: Callable[..., Any]) -> Callable[..., Number]:
    def call(*args: Number) -> Number:
        return _check(fn(*args))

    call.__name__ = getattr(fn, "__name__", "function")
    return call


_FUNCTION_IMPLS: dict[str, Callable[..., Any]] = {
    "sqrt": math.sqrt,
    "log": _log,
    "exp": math.exp,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "abs": abs,
    "round": _round,
    "min": _min,
    "max": _max,
    "floor": math.floor,
    "ceil": math.ceil,
}
FUNCTIONS: dict[str, Callable[..., Number]] = {name: _function(fn) for name, fn in _FUNCTION_IMPLS.items()}
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}


# --- parsing and the whitelist ------------------------------------------------------------------------

UNICODE_OPERATORS = str.maketrans({"×": "*", "·": "*", "÷": "/", "−": "-", "–": "-", "’": "'"})


def _normalize(expression: str) -> str:
    return expression.translate(UNICODE_OPERATORS).replace("^", "**").strip()


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return "attribute access is not allowed"
    if isinstance(node, ast.Lambda):
        return "lambda expressions are not allowed"
    if isinstance(node, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp | ast.comprehension):
        return "comprehensions are not allowed"
    if isinstance(node, ast.JoinedStr | ast.FormattedValue):
        return "strings are not allowed"
    if isinstance(node, ast.Subscript | ast.Slice):
        return "indexing is not allowed"
    if isinstance(node, ast.Compare | ast.BoolOp | ast.IfExp):
        return "comparisons and conditions are not allowed"
    if isinstance(node, ast.List | ast.Tuple | ast.Set | ast.Dict):
        return "lists, tuples, sets and dicts are not allowed"
    if isinstance(node, ast.NamedExpr):
        return "assignment is not allowed"
    return f"{type(node).__name__} is not allowed"


def parse(expression: str) -> ast.expr:
    """Parse and check against the whitelist; the body of the expression, or CalcError."""
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as exc:
        raise CalcError(f"invalid syntax: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError):
        raise CalcError("expression too complex") from None

    allowed_function_names: set[int] = set()
    stack: list[tuple[ast.AST, int]] = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise CalcError(f"expression too deeply nested (the limit is {MAX_DEPTH} levels)")
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str | bytes):
                raise CalcError("strings are not allowed")
            if type(node.value) not in (int, float):
                raise CalcError(f"only real numbers are allowed, not {node.value!r}")
            _check(node.value)
        elif isinstance(node, ast.BinOp | ast.UnaryOp):
            if type(node.op) not in _OPERATORS:
                symbol = _OPERATOR_SYMBOLS.get(type(node.op), type(node.op).__name__)
                raise CalcError(f"operator {symbol!r} is not allowed")
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute | ast.Lambda):
                raise CalcError(_describe(node.func))
            if not isinstance(node.func, ast.Name):
                raise CalcError("only the whitelisted functions may be called")
            if node.func.id not in FUNCTIONS:
                raise CalcError(f"unknown function {node.func.id!r} (allowed: {', '.join(FUNCTIONS)})")
            if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
                raise CalcError("keyword and starred arguments are not allowed")
            allowed_function_names.add(id(node.func))
        elif isinstance(node, ast.Name):
            if id(node) not in allowed_function_names and node.id not in CONSTANTS:
                raise CalcError(f"unknown name {node.id!r} (allowed: {', '.join(CONSTANTS)})")
        else:
            raise CalcError(_describe(node))
        stack.extend(
            (child, depth + 1)
            for child in ast.iter_child_nodes(node)
            if not isinstance(child, ast.operator | ast.unaryop | ast.expr_context)
        )
    return tree.body


def evaluate(expression: str) -> CalcResult:
    """Evaluate an arithmetic expression; errors are returned in the result, never raised."""
    if not isinstance(expression, str):
        return CalcResult(str(expression), None, "the expression must be a string")
    if len(expression) > MAX_EXPRESSION_CHARS:
        return CalcResult(
            expression[:MAX_EXPRESSION_CHARS],
            None,
            f"expression too long ({len(expression)} characters; the limit is {MAX_EXPRESSION_CHARS})",
        )
    text = _normalize(expression)
    if not text:
        return CalcResult(expression, None, "empty expression")
    try:
        body = parse(text)
        evaluator = simpleeval.SimpleEval(
            operators=dict(_OPERATORS), functions=dict(FUNCTIONS), names=dict(CONSTANTS)
        )
        value = _check(evaluator.eval(text, previously_parsed=body))
    except CalcError as exc:
        return CalcResult(expression, None, str(exc))
    except ZeroDivisionError:
        return CalcResult(expression, None, "division by zero")
    except OverflowError:
        return CalcResult(expression, None, "result too large (the limit is 1e308)")
    except ValueError:
        return CalcResult(expression, None, "math domain error (e.g. sqrt or log of a negative number)")
    except TypeError as exc:
        return CalcResult(expression, None, f"invalid arguments: {exc}")
    except (RecursionError, MemoryError):
        return CalcResult(expression, None, "expression too complex")
    except simpleeval.InvalidExpression as exc:  # defence in depth: the whitelist runs first
        return CalcResult(expression, None, f"not allowed: {exc}")
    except Exception as exc:  # never raise to the caller
        return CalcResult(expression, None, f"cannot evaluate: {type(exc).__name__}")
    return CalcResult(expression, value, None)
