from __future__ import annotations

import isthmus.feel


def test_the_facade_exports_exactly_the_documented_names() -> None:
    assert isthmus.feel.__all__ == sorted(isthmus.feel.__all__)
    assert set(isthmus.feel.__all__) == {
        "BUILTIN_NAMES",
        "BatchExpression",
        "DaysTimeDuration",
        "EvaluationLimits",
        "Expression",
        "FeelFunction",
        "FeelSyntaxError",
        "FeelTime",
        "Range",
        "UnaryTests",
        "YearsMonthsDuration",
        "compile_batch",
        "compile_expression",
        "compile_unary_tests",
        "conforms",
        "feel_type_of",
        "from_feel",
        "shared_run",
        "to_feel",
        "to_string",
    }
    for name in isthmus.feel.__all__:
        assert hasattr(isthmus.feel, name)
