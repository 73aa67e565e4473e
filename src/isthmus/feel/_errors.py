"""The one error FEEL raises: a text that does not parse. Runtime problems are nulls plus warnings."""

from __future__ import annotations

from collections.abc import Sequence

from isthmus.errors import Location, SyntaxProblem


class FeelSyntaxError(SyntaxProblem):
    """A FEEL text that does not parse; ``line``/``column`` are 1-based, ``expected`` the tokens allowed there.

    >>> err = FeelSyntaxError("unexpected ')'", line=1, column=3, expected=["a name", "a number"])
    >>> err.message
    "line 1, column 3: unexpected ')', expected a name or a number"
    """

    code = "feel_syntax_error"
    title = "FEEL syntax error"

    def __init__(self, problem: str, *, line: int, column: int, expected: Sequence[str] = ()) -> None:
        self.line = line
        self.column = column
        self.expected = list(expected)
        self.problem = problem
        detail = problem
        if self.expected:
            shown = self.expected[:8]
            more = ", …" if len(self.expected) > 8 else ""
            detail += ", expected " + (
                ", ".join(shown[:-1]) + " or " + shown[-1] if len(shown) > 1 else shown[0]
            )
            detail += more
        super().__init__("{detail}", location=Location(line=line, column=column), detail=detail)
