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
_BLOCK = re.compile(r"\\([pP])\{Is([A-Za-z0-9_-]+)\}")
_SUBTRACTION = re.compile(r"\[([^\[\]]*)-\[([^\[\]]*)\]\]")


def _translate(pattern: str) -> str:
    if _NESTED_QUANTIFIER.search(pattern):
        raise FeelTypeError("pattern with nested unbounded repetition refused (catastrophic backtracking)")
    pattern = _SUBTRACTION.sub(lambda m: f"(?:(?![{m[2]}])[{m[1]}])", pattern)
    pattern = _BLOCK.sub(lambda m: "." if m[1] == "p" else "(?!)", pattern)
    if re.search(r"\\[pP]\{", pattern):
        raise FeelTypeError("unicode categories (\\p{…}) are not supported")
    return pattern


@lru_cache(maxsize=256)
def compile_pattern(pattern: str, flags: str = "") -> re.Pattern[str]:
    """A Python pattern for an XPath ``pattern`` and ``flags``; invalid input raises FeelTypeError."""
    if any(f not in "smixq" for f in flags):
        raise FeelTypeError(f"invalid regular expression flags {flags!r}")
    options = 0
    for flag in flags:
        options |= _FLAGS.get(flag, 0)
    source = re.escape(pattern) if "q" in flags else _translate(pattern)
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
