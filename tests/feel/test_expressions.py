"""FEEL expressions and their values, written from DMN 1.5 chapter 10 (one row per rule)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from isthmus.feel import DaysTimeDuration, FeelFunction, Range, YearsMonthsDuration, to_string

from ._helpers import feel, feel_warnings

D = Decimal

LITERALS = [
    ("1", D(1)),
    (".872", D("0.872")),
    ("-50", D(-50)),
    ('"a\\"b"', 'a"b'),
    ('"\\u0041\\U01F40E"', "A\U0001f40e"),
    ('"\\ud83d\\udc0e"', "\U0001f40e"),
    ("true", True),
    ("null", None),
    ('@"2024-01-31"', dt.date(2024, 1, 31)),
    ('@"10:30:00+01:00"', dt.time(10, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))),
    ('@"P1Y2M"', YearsMonthsDuration(14)),
    ('@"PT1H"', DaysTimeDuration(D(3600))),
    ("[1, 2]", [D(1), D(2)]),
    ('{a: 1, "b c": a + 1}', {"a": D(1), "b c": D(2)}),
    ("[1..10)", Range(D(1), D(10), True, False)),
    ("]1..10]", Range(D(1), D(10), False, True)),
    ("(1..10[", Range(D(1), D(10), False, False)),
    ("< 10", Range(None, D(10), False, False)),
    (">= 10", Range(D(10), None, True, False)),
    ("/* comment */ 1 // trailing", D(1)),
]

ARITHMETIC = [
    ("1 + 2 * 3", D(7)),
    ("(1 + 2) * 3", D(9)),
    ("10 / 4", D("2.5")),
    ("1 / 3", D("0.3333333333333333333333333333333333")),
    ("2 ** 10", D(1024)),
    ("-2 ** 2", D(4)),
    ("- - 2", D(2)),
    ("0.1 + 0.2", D("0.3")),
    ('"foo" + "bar"', "foobar"),
    ("1 / 0", None),
    ('"a" + 1', None),
    ("null + 1", None),
    ('date("2024-01-31") + duration("P1M")', dt.date(2024, 2, 29)),
    ('date("2024-03-01") - date("2024-02-01")', DaysTimeDuration(D(29 * 86400))),
    (
        'date and time("2024-01-01T10:00:00Z") + duration("PT90M")',
        dt.datetime(2024, 1, 1, 11, 30, tzinfo=dt.UTC),
    ),
    ('time("23:00:00") + duration("PT2H")', dt.time(1, 0)),
    ('duration("P1Y") + duration("P2M")', YearsMonthsDuration(14)),
    ('duration("P1D") * 2', DaysTimeDuration(D(172800))),
    ('duration("P2D") / duration("P1D")', D(2)),
    ('years and months duration(date("2020-01-15"), date("2021-03-14"))', YearsMonthsDuration(13)),
]

LOGIC = [
    ("true and null", None),
    ("false and null", False),
    ("null or true", True),
    ("null or false", None),
    ('"a" and false', False),
    ("1 = 1", True),
    ('1 = "1"', None),
    ("null = null", True),
    ("1 = null", False),
    ("1 != 2", True),
    ("[1, 2] = [1, 2]", True),
    ("{a: 1} = {a: 1}", True),
    ("{a: 1} = {a: 2}", False),
    ('"a" < "b"', True),
    ("1 < true", None),
    ('date("2024-01-01") < date("2024-01-02")', True),
    ('duration("P1D") > duration("PT1H")', True),
    ("5 between 1 and 10", True),
    ("5 in [1..10]", True),
    ("5 in (1, 5)", True),
    ("5 in < 3", False),
    ("5 in [1, 2, 3]", False),
    ("if 1 > 2 then 1 else 2", D(2)),
    ("if null then 1 else 2", D(2)),
    ("some x in [1, 2, 3] satisfies x > 2", True),
    ("every x in [1, 2, 3] satisfies x > 2", False),
    ("5 instance of number", True),
    ("[1, 2] instance of list<number>", True),
    ("{a: 1} instance of context<a: number>", True),
    ('"x" instance of list<number>', False),
    ("[1..2] instance of range<number>", True),
    ("(function(a) a) instance of function<Any>->Any", True),
]

LOOPS_AND_PATHS = [
    ("for x in 1..3 return x * x", [D(1), D(4), D(9)]),
    ("for x in 3..1 return x", [D(3), D(2), D(1)]),
    ("for x in [1, 2], y in [10, 20] return x + y", [D(11), D(21), D(12), D(22)]),
    ("for i in 0..4 return if i = 0 then 1 else i * partial[-1]", [D(1), D(1), D(2), D(6), D(24)]),
    ("[1, 2, 3, 4][item > 2]", [D(3), D(4)]),
    ("[1, 2, 3][1]", D(1)),
    ("[1, 2, 3][-1]", D(3)),
    ("[1, 2, 3][5]", None),
    ("[{a: 1}, {a: 2}][a > 1].a", [D(2)]),
    ("[{a: 1}, {a: 2}].a", [D(1), D(2)]),
    ("{a: {b: 3}}.a.b", D(3)),
    ('date("2024-02-29").year', D(2024)),
    ('date("2024-02-29").weekday', D(4)),
    ('date and time("2024-01-01T10:00:00@Europe/Paris").timezone', "Europe/Paris"),
    ('duration("P1DT2H").hours', D(2)),
    ('duration("P14M").years', D(1)),
    ("[1..10).end included", False),
    ("{f: function(n) if n <= 1 then 1 else n * f(n - 1), r: f(10)}.r", D(3628800)),
    ("(function(a, b) a - b)(b: 1, a: 5)", D(4)),
    ("{add: function(x: number, y: number) x + y}.add(1, 2)", D(3)),
    ('{add: function(x: number) x}.add("no")', None),
]

BUILTINS = [
    ('substring("foobar", 3)', "obar"),
    ('substring("foobar", -2, 1)', "a"),
    ('substring(string: "foobar", start position: 2, length: 3)', "oob"),
    ('string length("🐎ab")', D(3)),
    ('upper case("abc")', "ABC"),
    ('substring before("foobar", "bar")', "foo"),
    ('substring after("foobar", "ob")', "ar"),
    ('replace("abcd", "(ab)|(a)", "[1=$1][2=$2]")', "[1=ab][2=]cd"),
    ('replace("a.b.c", ".", "-", "q")', "a-b-c"),
    ('matches("Hello", "^h", "i")', True),
    ('matches("abc", "(a+)+$")', None),
    ('split("a;b;;c", ";")', ["a", "b", "", "c"]),
    ('string join(["a", null, "c"], ", ")', "a, c"),
    ('contains("foobar", "ob")', True),
    ('starts with("foobar", "fo")', True),
    ('ends with("foobar", "r")', True),
    ("list contains([1, null], null)", True),
    ("count([1, 2])", D(2)),
    ("min([3, 1, 2])", D(1)),
    ("max(3, 1, 2)", D(3)),
    ("sum([1, 2, 3])", D(6)),
    ("mean([1, 2, 3, 4])", D("2.5")),
    ("median([1, 2, 3, 4])", D("2.5")),
    ("stddev([2, 4, 7, 5])", D("2.081665999466132735282297706979931")),
    ("mode([6, 3, 9, 6, 6])", [D(6)]),
    ("all([true, null, false])", False),
    ("any([false, null])", None),
    ("sublist([1, 2, 3], 2)", [D(2), D(3)]),
    ("append([1], 2, 3)", [D(1), D(2), D(3)]),
    ("concatenate([1], [2], [3])", [D(1), D(2), D(3)]),
    ("insert before([1, 3], 2, 2)", [D(1), D(2), D(3)]),
    ("remove([1, 2, 3], 2)", [D(1), D(3)]),
    ("reverse([1, 2, 3])", [D(3), D(2), D(1)]),
    ("index of([1, 2, 1], 1)", [D(1), D(3)]),
    ("union([1, 2], [2, 3])", [D(1), D(2), D(3)]),
    ("distinct values([1, 2, 1])", [D(1), D(2)]),
    ("flatten([1, [2, [3]]])", [D(1), D(2), D(3)]),
    ("product(2, 3, 4)", D(24)),
    ("sort([3, 1, 2])", [D(1), D(2), D(3)]),
    ("sort([3, 1, 2], function(x, y) x > y)", [D(3), D(2), D(1)]),
    ("list replace([1, 2, 3], 2, 9)", [D(1), D(9), D(3)]),
    ("decimal(1/3, 2)", D("0.33")),
    ("decimal(2.5, 0)", D(2)),
    ("floor(-1.5)", D(-2)),
    ("ceiling(1.21, 1)", D("1.3")),
    ("round up(-5.5)", D(-6)),
    ("round down(5.5)", D(5)),
    ("round half up(2.5)", D(3)),
    ("round half down(2.5)", D(2)),
    ("abs(-3)", D(3)),
    ("modulo(-12, 5)", D(3)),
    ("sqrt(16)", D(4)),
    ("exp(0)", D(1)),
    ("log(1)", D(0)),
    ("odd(5)", True),
    ("even(5)", False),
    ('number("1 000,5", " ", ",")', D("1000.5")),
    ("string(1.50)", "1.5"),
    ('string(date("2024-01-02"))', "2024-01-02"),
    ("date(2024, 2, 29)", dt.date(2024, 2, 29)),
    ('date("2023-02-29")', None),
    ("time(10, 30, 15.5)", dt.time(10, 30, 15, 500000)),
    ('date and time(date("2024-01-01"), time("10:00:00Z"))', dt.datetime(2024, 1, 1, 10, tzinfo=dt.UTC)),
    (
        'date and time("2024-01-01T10:00:00@Europe/Paris")',
        dt.datetime(2024, 1, 1, 10, tzinfo=ZoneInfo("Europe/Paris")),
    ),
    ('duration("-P2DT3H")', DaysTimeDuration(D(-(2 * 86400 + 3 * 3600)))),
    ('day of week(date("2024-01-01"))', "Monday"),
    ('day of year(date("2024-02-01"))', D(32)),
    ('month of year(date("2024-02-01"))', "February"),
    ('week of year(date("2024-01-01"))', D(1)),
    ('get value({a: 1}, "a")', D(1)),
    ("get entries({a: 1})", [{"key": "a", "value": D(1)}]),
    ('context put({a: 1}, "b", 2)', {"a": D(1), "b": D(2)}),
    ("context merge([{a: 1}, {b: 2}])", {"a": D(1), "b": D(2)}),
    ('context([{key: "a", value: 1}])', {"a": D(1)}),
    ("get or else(null, 3)", D(3)),
    ("not(true)", False),
    ('is(@"2024-01-01T10:00:00@Europe/Paris", @"2024-01-01T10:00:00+01:00")', False),
    ("before(1, [2..5])", True),
    ("after([6..9], 5)", True),
    ("meets([1..5], [5..8])", True),
    ("overlaps([1..5], [3..8])", True),
    ("includes([1..10], [2..3])", True),
    ("during(5, [1..10])", True),
    ("starts(1, [1..10])", True),
    ("finishes(10, [1..10])", True),
    ("coincides([1..2], [1..2])", True),
    ('range("[1..3]")', Range(D(1), D(3), True, True)),
    ('range("[date(x)..2]")', None),
]


@pytest.mark.parametrize(("text", "expected"), LITERALS + ARITHMETIC + LOGIC + LOOPS_AND_PATHS + BUILTINS)
def test_expression_value(text: str, expected: Any) -> None:
    assert feel(text) == expected


def test_names_with_spaces_and_operators_are_single_names() -> None:
    context = {"Monthly Salary": D(1000), "Loan-to-value ratio": D("0.8"), "Applicant Age": D(30)}
    names = tuple(context)
    assert feel("Monthly Salary * 12", context, names=names) == D(12000)
    assert feel("Loan-to-value ratio * 100", context, names=names) == D(80)
    assert feel("Applicant Age >= 18 and Loan-to-value ratio < 1", context, names=names) is True


def test_multi_word_names_also_parse_without_being_declared() -> None:
    assert feel("first name + last name", {"first name": "Ada ", "last name": "L"}) == "Ada L"


def test_python_ints_and_floats_in_the_context_are_numbers() -> None:
    assert feel("a + b", {"a": 1, "b": 0.5}) == D("1.5")


def test_runtime_errors_are_null_with_a_warning() -> None:
    value, warnings = feel_warnings('"a" + 1')
    assert value is None
    assert warnings == ["cannot apply + to string and number"]


def test_unknown_names_are_null_with_a_warning() -> None:
    value, warnings = feel_warnings("missing + 1")
    assert value is None
    assert "unknown name 'missing'" in warnings[0]


def test_external_functions_yield_null_with_a_warning() -> None:
    value, warnings = feel_warnings('{f: function(x) external {java: {class: "X"}}, r: f(1)}.r')
    assert value is None
    assert any("external" in w for w in warnings)


def test_python_callables_wrapped_as_feel_functions_take_named_arguments() -> None:
    double = FeelFunction(["x"], lambda x: x * 2, name="double")
    assert feel("double(x: 4) + double(1)", {"double": double}) == D(10)


def test_a_python_function_that_raises_yields_null() -> None:
    def broken(x: Any) -> Any:
        raise RuntimeError("boom")

    value, warnings = feel_warnings("f(1)", {"f": FeelFunction(["x"], broken, "f")})
    assert value is None
    assert "boom" in warnings[0]


def test_context_entries_shadow_builtins() -> None:
    assert feel("sum(1)", {"sum": FeelFunction(["x"], lambda x: "mine")}) == "mine"


def test_string_conversion_of_temporal_values_keeps_the_zone_form() -> None:
    assert to_string(feel('date and time("2024-01-01T10:00:00+00:00")')) == "2024-01-01T10:00:00Z"
    assert to_string(feel('@"2024-01-01T10:00:00@Europe/Paris"')) == "2024-01-01T10:00:00@Europe/Paris"
    assert to_string(feel('duration("P1DT2H30M")')) == "P1DT2H30M"
