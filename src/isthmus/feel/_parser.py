"""Parse FEEL text into a Lark tree (LALR(1), built once per process)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import lru_cache
from importlib.resources import files
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.lexer import Lexer

from isthmus.feel._errors import FeelSyntaxError
from isthmus.feel._lexer import tokenize

#: how the expected terminals are shown in error messages
_SHOWN = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": "a string",
    "TEMPORAL": '@"…"',
    "TYPE": "a type",
    "_LPAR": '"("',
    "_RPAR": '")"',
    "_LSQB": '"["',
    "_RSQB": '"]"',
    "_LBRACE": '"{"',
    "_RBRACE": '"}"',
    "_COMMA": '","',
    "_COLON": '":"',
    "_DOT": '"."',
    "_DOTDOT": '".."',
    "RSQB_CLOSE": '"]"',
    "RPAR_CLOSE": '")"',
    "LSQB_CLOSE": '"["',
    "LSQB_OPEN": '"["',
    "LPAR_OPEN": '"("',
    "RSQB_OPEN": '"]"',
    "$END": "end of input",
}
_OPERATORS = {"EQ": "=", "NE": "!=", "LT": "<", "LE": "<=", "GT": ">", "GE": ">=", "PLUS": "+"}
_OPERATORS |= {"MINUS": "-", "STAR": "*", "SLASH": "/", "POW": "**"}
#: nesting deeper than this is refused at parse time, so compiling and evaluating never overflow the stack
MAX_NESTING = 60


class _TokenList(Lexer):
    """Feeds the tokens of :func:`tokenize` to the parser: all context-sensitive work is done there."""

    def __init__(self, lexer_conf: Any) -> None:
        pass

    def lex(self, data: Any) -> Iterator[Token]:  # type: ignore[override]
        return iter(data)


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = files("isthmus.feel").joinpath("_grammar.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", lexer=_TokenList, start=["start", "tests"], maybe_placeholders=False)


def _shown(terminal: str) -> str:
    if terminal in _SHOWN:
        return _SHOWN[terminal]
    if terminal in _OPERATORS:
        return f'"{_OPERATORS[terminal]}"'
    return '"' + terminal.lstrip("_").lower().replace("_", " ") + '"'


def parse(text: str, names: Iterable[str] = (), *, start: str = "start") -> Tree[Token]:
    """The parse tree of ``text``; raises :class:`FeelSyntaxError` with the expected tokens."""
    tokens = tokenize(text, names)
    _check_nesting(text, tokens)
    try:
        return _parser().parse(tokens, start=start)
    except UnexpectedInput as error:
        raise _syntax_error(text, error) from None


def _check_nesting(text: str, tokens: list[Token]) -> None:
    depth = 0
    for token in tokens:
        if token.type in ("_LPAR", "_LSQB", "_LBRACE", "LSQB_OPEN", "LPAR_OPEN", "RSQB_OPEN", "_IF", "_FOR"):
            depth += 1
        elif token.type in ("_RPAR", "_RSQB", "_RBRACE", "RSQB_CLOSE", "RPAR_CLOSE", "LSQB_CLOSE"):
            depth -= 1
        if depth > MAX_NESTING:
            raise FeelSyntaxError(
                f"expression nested deeper than {MAX_NESTING} levels",
                line=token.line or 1,
                column=token.column or 1,
            )
    if len(tokens) > 20 * MAX_NESTING * 10:
        _check_chain_length(tokens)


def _check_chain_length(tokens: list[Token]) -> None:
    """Very long operator chains (``1+1+1+…``) nest as deeply as parentheses do."""
    if len(tokens) > 100_000:
        first = tokens[0]
        raise FeelSyntaxError("expression too long", line=first.line or 1, column=first.column or 1)


def _syntax_error(text: str, error: UnexpectedInput) -> FeelSyntaxError:
    expected: set[str] = set()
    if isinstance(error, UnexpectedToken | UnexpectedEOF):
        expected = {_shown(t) for t in error.expected}
    line, column = error.line, error.column
    if (isinstance(error, UnexpectedToken) and error.token.type == "$END") or line in (None, -1):
        line = text.count("\n") + 1
        column = len(text) - (text.rfind("\n") + 1) + 1
    if isinstance(error, UnexpectedToken) and error.token.type != "$END":
        problem = f"unexpected {str(error.token)!r}"
    elif isinstance(error, UnexpectedCharacters):
        problem = f"unexpected character {error.char!r}"
    else:
        problem = "unexpected end of input"
    return FeelSyntaxError(problem, line=int(line), column=int(column), expected=sorted(expected))
