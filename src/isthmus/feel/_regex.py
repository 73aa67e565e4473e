"""XPath/XML Schema regular expressions (XQuery F&O 3.1 §5.6) run safely on Python's ``re``.

The translation covers what differs in practice: ``\\p{IsBlock}`` names, character-class subtraction
``[a-z-[aeiou]]``, the ``q`` (literal) and ``x`` flags and ``$N`` replacement references. Catastrophic
backtracking is bounded by the input length limit of :class:`EvaluationLimits` plus a pattern check
that refuses nested unbounded quantifiers such as ``(a+)+``.
"""

from __future__ import annotations

import re
from functools import lru_cache

from isthmus.feel._functions import FeelTypeError
from isthmus.feel._runtime import limits

_FLAGS = {"s": re.DOTALL, "m": re.MULTILINE, "i": re.IGNORECASE, "x": re.VERBOSE}
#: a group that repeats without bound and contains an unbounded quantifier: (a+)+, (a*)*, (a|a+)*
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*(?:[+*]|\{\d*,\})(?:[^()\\]|\\.)*\)\s*(?:[+*]|\{\d*,\})")
_SUBTRACTION = re.compile(r"\[([^\[\]]*)-\[([^\[\]]*)\]\]")
#: Unicode blocks and categories Python's ``re`` lacks, as class contents (approximate for categories)
_CLASSES = {
    "IsBasicLatin": "\\x00-\\x7f",
    "IsLatin-1Supplement": "\\x80-\\xff",
    "IsLatinExtended-A": "\\u0100-\\u017f",
    "IsGreek": "\\u0370-\\u03ff",
    "IsGreekandCoptic": "\\u0370-\\u03ff",
    "IsCyrillic": "\\u0400-\\u04ff",
    "IsHebrew": "\\u0590-\\u05ff",
    "IsArabic": "\\u0600-\\u06ff",
    "IsCJKUnifiedIdeographs": "\\u4e00-\\u9fff",
    "IsHiragana": "\\u3040-\\u309f",
    "IsKatakana": "\\u30a0-\\u30ff",
    "Lu": "A-Z\\u00c0-\\u00d6\\u00d8-\\u00de\\u0391-\\u03a9\\u0410-\\u042f",
    "Ll": "a-z\\u00df-\\u00f6\\u00f8-\\u00ff\\u03b1-\\u03c9\\u0430-\\u044f",
    "Nd": "0-9",
    "N": "0-9",
    "P": "!-#%-*,-/:;?@\\[-\\]_{}\\u00a1\\u00ab\\u00b7\\u00bb\\u00bf",
    "Zs": " \\u00a0\\u3000",
    "Z": " \\u00a0\\u2028\\u2029\\u3000",
}
#: categories with an exact Python spelling outside character classes
_OUTSIDE = {"L": ("[^\\W\\d_]", "[\\W\\d_]")}


def _category(name: str, negated: bool, in_class: bool) -> str:
    if not in_class and name in _OUTSIDE:
        return _OUTSIDE[name][negated]
    contents = _CLASSES.get(name)
    if contents is None or (in_class and negated):
        raise FeelTypeError(f"unsupported character property \\p{{{name}}}")
    if in_class:
        return contents
    return ("[^" if negated else "[") + contents + "]"


def _strip_whitespace(pattern: str) -> str:
    """The ``x`` flag: whitespace outside character classes is removed (XPath F&O 3.1 §5.6.1)."""
    out, in_class, i = [], False, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            j = i + 1
            while j < len(pattern) - 1 and pattern[j].isspace() and not in_class:
                j += 1  # "\ s" is "\s" once whitespace is gone
            out.append("\\" + pattern[j])
            i = j + 1
            continue
        if char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        if in_class or not char.isspace():
            out.append(char)
        i += 1
    return "".join(out)


def _escape(pattern: str, i: int, in_class: bool) -> tuple[str, int]:
    code = pattern[i + 1 : i + 2]
    if code in ("p", "P") and pattern[i + 2 : i + 3] == "{":
        close = pattern.find("}", i)
        if close < 0:
            raise FeelTypeError("unterminated \\p{")
        return _category(pattern[i + 3 : close], code == "P", in_class), close + 1
    if in_class and code.isdigit():
        raise FeelTypeError("back-references are not allowed in character classes")
    return pattern[i : i + 2], i + 2


def _translate(pattern: str, flags: str) -> str:
    """Rewrite the XPath dialect into Python's: ``.`` never matches CR/LF, ``$`` only at the very end."""
    if _NESTED_QUANTIFIER.search(pattern):
        raise FeelTypeError("pattern with nested unbounded repetition refused (catastrophic backtracking)")
    if "x" in flags:
        pattern = _strip_whitespace(pattern)
    pattern = _SUBTRACTION.sub(lambda m: f"(?:(?![{m[2]}])[{m[1]}])", pattern)
    out: list[str] = []
    in_class, i = False, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            piece, i = _escape(pattern, i, in_class)
            out.append(piece)
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "." and "s" not in flags:
            char = "[^\\n\\r]"
        elif char == "$" and "m" not in flags:
            char = "\\Z"
        out.append(char)
        i += 1
    return "".join(out)


@lru_cache(maxsize=256)
def compile_pattern(pattern: str, flags: str = "") -> re.Pattern[str]:
    """A Python pattern for an XPath ``pattern`` and ``flags``; invalid input raises FeelTypeError."""
    if any(f not in "smixq" for f in flags):
        raise FeelTypeError(f"invalid regular expression flags {flags!r}")
    options = 0
    for flag in flags:
        if flag != "x":
            options |= _FLAGS.get(flag, 0)
    source = re.escape(pattern) if "q" in flags else _translate(pattern, flags)
    try:
        return re.compile(source, options)
    except re.error as error:
        raise FeelTypeError(f"invalid regular expression: {error}") from None


def check_input(text: str) -> str:
    bound = limits().max_regex_input
    if len(text) > bound:
        raise FeelTypeError(f"regular expression input longer than {bound} characters")
    return text


def replacement(template: str, groups: int) -> str:
    """XPath ``$1`` references in a replacement string as Python ``\\g<1>``."""
    out: list[str] = []
    i = 0
    while i < len(template):
        char = template[i]
        if char == "\\" and i + 1 < len(template) and template[i + 1] in "\\$":
            out.append("\\\\" if template[i + 1] == "\\" else "$")
            i += 2
        elif char == "$":
            digits = re.match(r"\d+", template[i + 1 :])
            if not digits:
                raise FeelTypeError("invalid replacement string: '$' without group number")
            number = digits.group()
            # XPath: digits past the group count are literal (``$12`` with one group is group 1, "2")
            while len(number) > 1 and int(number) > groups:
                number = number[:-1]
            out.append(f"\\g<{number}>" if int(number) <= groups else "")
            out.append(digits.group()[len(number) :])
            i += 1 + len(digits.group())
        elif char == "\\":
            raise FeelTypeError("invalid replacement string: lone backslash")
        else:
            out.append(char)
            i += 1
    return "".join(out)
