"""The calculator tool: correct arithmetic, bounded evaluation, clear refusals, conservative extraction."""

from __future__ import annotations

import math
import time

import pytest

from services.tool.calculator import MAX_EXPRESSION_CHARS, CalcResult, evaluate
from services.tool.expression import extract_expression


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 + 2", 3),
        ("7 - 10", -3),
        ("6 * 7", 42),
        ("10 / 4", 2.5),
        ("7 // 2", 3),
        ("-7 // 2", -4),
        ("7 % 3", 1),
        ("2 ** 10", 1024),
        ("2 ^ 10", 1024),
        ("1.5 * 4", 6.0),
        ("-3 + 5", 2),
        ("+3", 3),
        ("--3", 3),
        ("1e3 + 1", 1001.0),
        ("10 ** 308", 10**308),
    ],
)
def test_basic_arithmetic(expression: str, expected: float) -> None:
    """Each operator gives Python's result for numbers."""
    result = evaluate(expression)
    assert result == CalcResult(expression, expected, None)
    assert result.ok


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("2 * 3 ** 2", 18),
        ("2 * 3 ^ 2", 18),
        ("-2 ** 2", -4),
        ("2 ** 3 ** 2", 512),
        ("2 ^ 3 ^ 2", 512),
        ("100 - 10 - 1", 89),
        ("64 / 4 / 2", 8.0),
        ("17 * (3 + 4)", 119),
        ("((2 + 3) * (4 - 1)) % 7", 1),
    ],
)
def test_precedence_and_associativity(expression: str, expected: float) -> None:
    """Precedence and associativity follow mathematics, with ^ read as a right-associative power."""
    assert evaluate(expression).value == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("sqrt(16)", 4.0),
        ("log(e)", 1.0),
        ("log(8, 2)", 3.0),
        ("exp(0)", 1.0),
        ("sin(pi / 2)", 1.0),
        ("cos(0)", 1.0),
        ("tan(0)", 0.0),
        ("abs(-3)", 3),
        ("round(2.567, 2)", 2.57),
        ("round(2.5)", 2),
        ("min(4, 2, 8)", 2),
        ("max(4, 2, 8)", 8),
        ("floor(2.7)", 2),
        ("ceil(2.1)", 3),
        ("2 * pi", 2 * math.pi),
        ("e ** 2", math.e**2),
        ("sqrt(3 ** 2 + 4 ** 2)", 5.0),
    ],
)
def test_functions_and_constants(expression: str, expected: float) -> None:
    """The whitelisted math functions and the constants pi and e work."""
    result = evaluate(expression)
    assert result.error is None
    assert result.value == pytest.approx(expected)


def test_unicode_operators_are_accepted() -> None:
    """Typographic multiplication, division and minus signs are read as *, / and -."""
    assert evaluate("6 × 7 ÷ 2 − 1").value == 20.0


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("1 / 0", "division by zero"),
        ("5 // 0", "division by zero"),
        ("5 % 0", "division by zero"),
        ("0 ** -1", "division by zero"),
        ("sqrt(-1)", "math domain error"),
        ("log(0)", "math domain error"),
        ("(-8) ** (1 / 3)", "not a real number"),
        ("x + 1", "unknown name 'x'"),
        ("foo(1)", "unknown function 'foo'"),
        ("min()", "at least one argument"),
        ("sqrt(1, 2)", "invalid arguments"),
        ("1 +", "invalid syntax"),
        ("", "empty expression"),
        ("   ", "empty expression"),
    ],
)
def test_errors_are_returned_not_raised(expression: str, message: str) -> None:
    """Arithmetic and lookup errors come back as a clear message with no value."""
    result = evaluate(expression)
    assert result.value is None
    assert not result.ok
    assert result.error is not None
    assert message in result.error


@pytest.mark.parametrize(
    "expression",
    [
        "9**9**9",
        "9^9^9",
        "10**100000",
        "2 ** 4000000",
        "10 ** 309",
        "2.5 ** 10 ** 300",
        "1e308 * 10",
        "1e308 + 1e308",
        "10 ** 308 * 10",
        "exp(1000)",
        "1e999",
        "9" * 400,
    ],
)
def test_power_bombs_and_huge_numbers_are_refused_quickly(expression: str) -> None:
    """Results beyond 1e308 are refused, power bombs before anything is computed."""
    started = time.perf_counter()
    result = evaluate(expression)
    assert time.perf_counter() - started < 0.5
    assert result.value is None
    assert result.error is not None
    assert "too large" in result.error


def test_round_digits_are_bounded() -> None:
    """A huge digit count for round(), which would build a huge power of ten, is refused."""
    started = time.perf_counter()
    result = evaluate("round(5, -10 ** 8)")
    assert time.perf_counter() - started < 0.5
    assert result.error is not None
    assert "round() digits" in result.error


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("__import__('os')", "unknown function '__import__'"),
        ("__import__('os').system('true')", "attribute access is not allowed"),
        ("(1).__class__", "attribute access is not allowed"),
        ("(1).__class__.__bases__[0].__subclasses__()", "attribute access is not allowed"),
        ("pi.real", "attribute access is not allowed"),
        ("(lambda: 1)()", "lambda expressions are not allowed"),
        ("(lambda x: x)", "lambda expressions are not allowed"),
        ("[x for x in range(10)]", "comprehensions are not allowed"),
        ("sum(x for x in range(10))", "unknown function 'sum'"),
        ("'a' * 10", "strings are not allowed"),
        ("b'a'", "strings are not allowed"),
        ("f'{1}'", "strings are not allowed"),
        ("len('abc')", "unknown function 'len'"),
        ("True + 1", "only real numbers"),
        ("None", "only real numbers"),
        ("1j", "only real numbers"),
        ("[1, 2][0]", "not allowed"),
        ("(1, 2)", "not allowed"),
        ("1 if 1 else 2", "not allowed"),
        ("1 < 2", "not allowed"),
        ("1 & 2", "operator '&' is not allowed"),
        ("1 << 100", "operator '<<' is not allowed"),
        ("~1", "operator '~' is not allowed"),
        ("(y := 2)", "assignment is not allowed"),
        ("max(*[1, 2])", "keyword and starred arguments are not allowed"),
        ("round(2.5, ndigits=1)", "keyword and starred arguments are not allowed"),
        ("abs", "unknown name 'abs'"),
        ("sqrt.__call__(4)", "attribute access is not allowed"),
        ("open('/etc/passwd')", "unknown function 'open'"),
        ("1; 2", "invalid syntax"),
        ("import os", "invalid syntax"),
    ],
)
def test_code_beyond_arithmetic_is_refused(expression: str, message: str) -> None:
    """Names, attributes, calls, lambdas, strings and containers beyond the whitelist are refused."""
    result = evaluate(expression)
    assert result.value is None
    assert result.error is not None
    assert message in result.error


def test_long_input_is_refused() -> None:
    """An expression over the length limit is refused without being parsed."""
    expression = "1+" * MAX_EXPRESSION_CHARS + "1"
    result = evaluate(expression)
    assert result.value is None
    assert result.error is not None
    assert "too long" in result.error


def test_deep_nesting_is_refused() -> None:
    """Deeply nested input within the length limit is refused rather than exhausting the stack."""
    for expression in ("-" * 400 + "1", "(" * 240 + "1" + ")" * 240, "sqrt(" * 80 + "1" + ")" * 80):
        result = evaluate(expression)
        assert result.value is None
        assert result.error is not None
        assert "nested" in result.error or "complex" in result.error or "syntax" in result.error


def test_non_string_input_is_refused() -> None:
    """A value that is not a string gives an error instead of an exception."""
    result = evaluate(42)  # type: ignore[arg-type]
    assert result.value is None
    assert result.error is not None


@pytest.mark.parametrize(
    ("question", "expression"),
    [
        ("what is 17 * (3 + 4)?", "17 * (3 + 4)"),
        ("compute 2^10", "2 ** 10"),
        ("What's 5 plus 3?", "5 + 3"),
        ("what is 10 divided by 4?", "10 / 4"),
        ("how much is 3 x 4", "3 * 4"),
        ("calculate sqrt(16) + 2", "sqrt(16) + 2"),
        ("what is 15% of 200?", "(15 / 100) * 200"),
        ("What is 3 to the power of 4?", "3 ** 4"),
        ("what is 7 mod 3", "7 % 3"),
        ("what is the value of pi * 2", "pi * 2"),
        ("evaluate -5 + 3", "-5 + 3"),
        ("what is 12/5.", "12 / 5"),
        ("2 squared", "2 ** 2"),
        ("6 × 7", "6 * 7"),
    ],
)
def test_extract_expression_from_questions(question: str, expression: str) -> None:
    """A question holding one expression and filler words gives that expression, ready to evaluate."""
    extracted = extract_expression(question)
    assert extracted == expression
    assert evaluate(extracted).ok


@pytest.mark.parametrize(
    "question",
    [
        "hello world",
        "what is the capital of France?",
        "what is 42?",
        "what is -5",
        "In the 2024-2025 season who won the league?",
        "what is 2 + 2 and 3 + 3",
        "what is 2 +",
        "what is x + 1",
        "run __import__('os').system('ls') and 1+1",
        "what is (1).__class__",
        "",
        "1 + " * 600 + "1",
    ],
)
def test_extract_expression_is_conservative(question: str) -> None:
    """Questions without exactly one clean arithmetic expression give None."""
    assert extract_expression(question) is None


def test_extracted_power_bomb_is_still_refused() -> None:
    """Extraction does not judge size: a power bomb it extracts is refused by evaluate."""
    extracted = extract_expression("compute 9^9^9")
    assert extracted == "9 ** 9 ** 9"
    result = evaluate(extracted)
    assert result.error is not None
    assert "too large" in result.error
