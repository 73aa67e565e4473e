"""The FEEL tokenizer: the context-sensitive half of the grammar (DMN 1.5 §10.3.1).

FEEL names may contain spaces and keywords (``date and time``, ``Applicant Age``), so names known to
be in scope are matched greedily, longest first. Ranges may close with ``[`` or open with ``]``
(``]1..10[``), which a context-free lexer cannot tell from filters and lists: a second pass over the
tokens matches brackets and retypes those that open or close a range. Types after ``instance of``
and after a typed function parameter become one ``TYPE`` token (``list<number>``) so that their
``<``/``>`` never meet the comparison operators.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from lark import Token

from isthmus.feel._errors import FeelSyntaxError

KEYWORDS = {
    "true": "TRUE",
    "false": "FALSE",
    "null": "NULL",
    "and": "_AND",
    "or": "_OR",
    "if": "_IF",
    "then": "_THEN",
    "else": "_ELSE",
    "for": "_FOR",
    "in": "_IN",
    "return": "_RETURN",
    "some": "SOME",
    "every": "EVERY",
    "satisfies": "_SATISFIES",
    "between": "_BETWEEN",
    "function": "_FUNCTION",
    "external": "EXTERNAL",
}

#: built-in names that contain keywords or would otherwise split (DMN 1.5 §10.3.4)
BUILTIN_NAMES = (
    "date and time",
    "years and months duration",
    "days and time duration",
    "get or else",
    "string length",
    "upper case",
    "lower case",
    "substring before",
    "substring after",
    "starts with",
    "ends with",
    "string join",
    "list contains",
    "list replace",
    "distinct values",
    "duplicate values",
    "insert before",
    "index of",
    "day of year",
    "day of week",
    "month of year",
    "week of year",
    "get value",
    "get entries",
    "context put",
    "context merge",
    "round up",
    "round down",
    "round half up",
    "round half down",
    "met by",
    "overlaps before",
    "overlaps after",
    "finished by",
    "started by",
    "is defined",
    "last day of month",
    "time offset",
    "start included",
    "end included",
)
_TYPE_NAMES = ("date and time", "years and months duration", "days and time duration")

_PUNCTUATION = {
    "**": "POW",
    "..": "_DOTDOT",
    "!=": "NE",
    "<=": "LE",
    ">=": "GE",
    "+": "PLUS",
    "-": "MINUS",
    "*": "STAR",
    "/": "SLASH",
    "=": "EQ",
    "<": "LT",
    ">": "GT",
    ".": "_DOT",
    ",": "_COMMA",
    ":": "_COLON",
    "(": "_LPAR",
    ")": "_RPAR",
    "[": "_LSQB",
    "]": "_RSQB",
    "{": "_LBRACE",
    "}": "_RBRACE",
}
_SPACE = re.compile(r"(?:\s+|//[^\n]*|/\*.*?\*/)+", re.DOTALL)
_NUMBER = re.compile(r"(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?")
_NAME_START = "(?:[^\\W\\d]|[\U00010000-\U000effff])"
_NAME_PART = "(?:\\w|[\U00010000-\U000effff])"
_NAME = re.compile(f"{_NAME_START}{_NAME_PART}*|\\?")
#: a context key may hold the extra name symbols of DMN 1.5 §10.3.1.2 (``{foo+bar: 1}``)
_KEY = re.compile(f"{_NAME_START}(?:(?:{_NAME_PART}|[+\\-*/.'’ ])*{_NAME_PART}|[+\\-*/.'’])?(?=\\s*:)")
_PUNCT = re.compile(r"\*\*|\.\.|!=|<=|>=|[-+*/=<>.,:()\[\]{}]")
_TYPE_WORD = re.compile(r"[^\W\d][\w.]*")
_VALUE_END = {"NAME", "NUMBER", "STRING", "TEMPORAL", "TRUE", "FALSE", "NULL", "_RPAR", "_RSQB", "_RBRACE"}
_VALUE_END |= {"RSQB_CLOSE", "RPAR_CLOSE", "LSQB_CLOSE", "TYPE"}
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "'": "'", "\\": "\\", "b": "\b", "f": "\f"}


@lru_cache(maxsize=256)
def _names_pattern(names: frozenset[str]) -> re.Pattern[str] | None:
    multi = [n for n in names if not _NAME.fullmatch(n)]
    if not multi:
        return None
    alternatives = sorted(multi, key=len, reverse=True)
    body = "|".join(r"\s+".join(re.escape(part) for part in n.split()) for n in alternatives)
    return re.compile(f"(?:{body})(?![\\w])")


def _canonical(text: str) -> str:
    return " ".join(text.split())


@dataclass
class _Scanner:
    text: str
    names: re.Pattern[str] | None
    pos: int = 0
    tokens: list[Token] = field(default_factory=list)
    #: paren depth of a `function(` parameter list being scanned, else -1
    param_depth: int = -1
    depth: int = 0
    brackets: list[str] = field(default_factory=list)

    def fail(self, message: str, pos: int | None = None, expected: Iterable[str] = ()) -> FeelSyntaxError:
        at = self.pos if pos is None else pos
        line = self.text.count("\n", 0, at) + 1
        column = at - (self.text.rfind("\n", 0, at) + 1) + 1
        return FeelSyntaxError(message, line=line, column=column, expected=sorted(expected))

    def emit(self, kind: str, value: str, start: int) -> None:
        line = self.text.count("\n", 0, start) + 1
        column = start - (self.text.rfind("\n", 0, start) + 1) + 1
        self.tokens.append(Token(kind, value, start, line, column, end_pos=self.pos))

    def run(self) -> list[Token]:
        text = self.text
        while True:
            space = _SPACE.match(text, self.pos)
            if space:
                self.pos = space.end()
            if self.pos >= len(text):
                return self.tokens
            self.step()

    def step(self) -> None:
        text, start = self.text, self.pos
        char = text[start]
        if char == '"':
            self.emit("STRING", self.string(), start)
        elif char == "@" and text.startswith('@"', start):
            self.pos += 1
            self.emit("TEMPORAL", self.string(), start)
        elif self.at_key() and (key := _KEY.match(text, start)) and " " not in key.group():
            self.pos = key.end()
            self.emit("NAME", key.group(), start)
        elif self.names is not None and (known := self.names.match(text, start)):
            self.pos = known.end()
            self.emit("NAME", _canonical(known.group()), start)
        elif number := _NUMBER.match(text, start):
            self.pos = number.end()
            self.emit("NUMBER", number.group(), start)
        elif name := _NAME.match(text, start):
            self.word(name.group(), start)
        elif punct := _PUNCT.match(text, start):
            self.punctuation(punct.group(), start)
        else:
            raise self.fail(f"unexpected character {char!r}")

    def word(self, word: str, start: int) -> None:
        builtin = _builtin_at(self.text, start)
        if builtin:
            self.pos = start + len(builtin)
            self.emit("NAME", _canonical(builtin), start)
            return
        self.pos = start + len(word)
        if word == "instance":
            after = _SPACE.match(self.text, self.pos)
            if (
                after
                and self.text.startswith("of", after.end())
                and not _is_word_char(self.text, after.end() + 2)
            ):
                self.pos = after.end() + 2
                self.emit("_INSTANCE_OF", "instance of", start)
                self.type_token()
                return
        self.emit(KEYWORDS.get(word, "NAME"), word, start)

    def at_key(self) -> bool:
        """Whether the next token is a context entry key: after ``{`` or a ``,`` directly inside braces."""
        if not self.tokens or not self.brackets or self.brackets[-1] != "{":
            return False
        return self.tokens[-1].type in ("_LBRACE", "_COMMA")

    def punctuation(self, punct: str, start: int) -> None:
        self.pos = start + len(punct)
        kind = _PUNCTUATION[punct]
        if punct in "([{":
            self.brackets.append(punct)
        elif punct in ")]}" and self.brackets:
            self.brackets.pop()
        if kind == "_LPAR":
            self.depth += 1
            if self.tokens and self.tokens[-1].type == "_FUNCTION":
                self.param_depth = self.depth
        elif kind == "_RPAR":
            if self.depth == self.param_depth:
                self.param_depth = -1
            self.depth -= 1
        self.emit(kind, punct, start)
        if kind == "_COLON" and self.param_depth == self.depth and self.param_depth > 0:
            self.type_token()

    def type_token(self) -> None:
        space = _SPACE.match(self.text, self.pos)
        if space:
            self.pos = space.end()
        start = self.pos
        end = scan_type(self.text, start)
        if end is None:
            raise self.fail("expected a type name", expected=["type"])
        self.pos = end
        self.emit("TYPE", self.text[start:end], start)

    def string(self) -> str:
        text = self.text
        out: list[str] = []
        i = self.pos + 1
        while i < len(text):
            char = text[i]
            if char == '"':
                self.pos = i + 1
                return _join_surrogates("".join(out))
            if char == "\\":
                decoded, i = self.escape(i)
                out.append(decoded)
                continue
            out.append(char)
            i += 1
        raise self.fail("unterminated string", expected=['"'])

    def escape(self, i: int) -> tuple[str, int]:
        text = self.text
        code = text[i + 1 : i + 2]
        if code in _ESCAPES:
            return _ESCAPES[code], i + 2
        width = {"u": 4, "U": 6}.get(code)
        digits = text[i + 2 : i + 2 + width] if width else ""
        if width and len(digits) == width and all(c in "0123456789abcdefABCDEF" for c in digits):
            point = int(digits, 16)
            if point <= 0x10FFFF:
                return chr(point), i + 2 + width
        # other escapes stay as written: regular expressions need "\\d", "\\s" (TCK 0067, 1109)
        return "\\", i + 1


def _is_word_char(text: str, at: int) -> bool:
    return at < len(text) and (text[at].isalnum() or text[at] == "_")


_BUILTIN_PATTERN = re.compile(
    "(?:"
    + "|".join(
        r"\s+".join(re.escape(p) for p in n.split()) for n in sorted(BUILTIN_NAMES, key=len, reverse=True)
    )
    + r")(?![\w])"
)


def _builtin_at(text: str, start: int) -> str | None:
    found = _BUILTIN_PATTERN.match(text, start)
    return found.group() if found else None


def _join_surrogates(text: str) -> str:
    if not any("\ud800" <= c <= "\udfff" for c in text):
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def scan_type(text: str, start: int) -> int | None:
    """End offset of the FEEL type that starts at ``start`` (``list<context<a: number>>``), or None."""
    pos = start
    for name in _TYPE_NAMES:
        if text.startswith(name, pos) and not _is_word_char(text, pos + len(name)):
            pos += len(name)
            break
    else:
        word = _TYPE_WORD.match(text, pos)
        if not word:
            return None
        pos = word.end()
    head = text[start:pos]
    after = _skip_space(text, pos)
    if after < len(text) and text[after] == "<":
        close = _matching_angle(text, after)
        if close is None:
            return None
        pos = close + 1
        after = _skip_space(text, pos)
        if head == "function" and text.startswith("->", after):
            return scan_type(text, _skip_space(text, after + 2))
    return pos


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _matching_angle(text: str, open_at: int) -> int | None:
    depth = 0
    i = open_at
    while i < len(text):
        if text.startswith("->", i):
            i += 2
            continue
        if text[i] == "<":
            depth += 1
        elif text[i] == ">":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


@dataclass
class _Open:
    token: Token
    plain: bool = True
    is_range: bool = False


def _mark_ranges(tokens: list[Token]) -> list[Token]:
    """Retype brackets that open or close ranges: ``[1..2[`` has no filter, ``]1..2]`` no list end."""
    stack: list[_Open] = []
    previous: Token | None = None
    for token in tokens:
        kind = token.type
        top = stack[-1] if stack else None
        if kind in ("_LPAR", "_LSQB", "_LBRACE"):
            if kind == "_LSQB" and top is not None and top.is_range:
                token.type = "LSQB_CLOSE"
                stack.pop()
            else:
                stack.append(_Open(token))
        elif kind == "_RSQB" and _opens_range(top, previous):
            token.type = "RSQB_OPEN"
            stack.append(_Open(token, is_range=False))
        elif kind in ("_RPAR", "_RSQB", "_RBRACE"):
            if top is not None:
                if top.is_range:
                    token.type = "RSQB_CLOSE" if kind == "_RSQB" else "RPAR_CLOSE"
                stack.pop()
        elif top is not None:
            _note_inside(top, token)
        previous = token
    return tokens


def _opens_range(top: _Open | None, previous: Token | None) -> bool:
    """Whether a ``]`` starts a range (``x in ]1..5]``) rather than closing a list or a filter."""
    if previous is None:
        return True
    if previous.type in _VALUE_END:
        return False
    return not (top is not None and top.token.type == "_LSQB" and previous is top.token)


def _note_inside(top: _Open, token: Token) -> None:
    if token.type == "_DOTDOT" and top.plain and top.token.type in ("_LPAR", "_LSQB", "RSQB_OPEN"):
        top.is_range = True
        top.plain = False
        if top.token.type == "_LSQB":
            top.token.type = "LSQB_OPEN"
        elif top.token.type == "_LPAR":
            top.token.type = "LPAR_OPEN"
    elif token.type in ("_COMMA", "_FOR", "SOME", "EVERY", "_IN", "_IF", "_COLON", "_FUNCTION"):
        top.plain = False


def tokenize(text: str, names: Iterable[str] = ()) -> list[Token]:
    """The tokens of ``text``; ``names`` are in-scope names that may contain spaces or operators."""
    pattern = _names_pattern(frozenset(_canonical(n) for n in names if n))
    scanner = _Scanner(text, pattern)
    return _mark_ranges(scanner.run())
