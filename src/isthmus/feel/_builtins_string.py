"""String functions (DMN 1.5 §10.3.4.3). Positions count Unicode code points, from 1; negative from the end."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from isthmus.feel import _args as a
from isthmus.feel._functions import ABSENT, FeelTypeError, builtin
from isthmus.feel._regex import check_input, compile_pattern, replacement
from isthmus.feel._runtime import check_size


@builtin("substring", "string, start position, length?")
def substring(string: Any, start: Any, length: Any = ABSENT) -> str:
    s = a.text(string)
    position = a.integer(start, "start position")
    if position == 0:
        # DMN 1.5: position 0 is before the first character; XPath would start at 1 with one fewer
        position = 1
        if length is not ABSENT:
            return str(substring(s, Decimal(1), a.number(length) - 1))
    first = position - 1 if position > 0 else max(len(s) + position, 0)
    if length is ABSENT:
        return s[first:]
    count = a.integer(length, "length")
    if count < 0:
        raise FeelTypeError("length must not be negative")
    return s[first : first + count]


@builtin("string length", "string")
def string_length(string: Any) -> Decimal:
    return Decimal(len(a.text(string)))


@builtin("upper case", "string")
def upper_case(string: Any) -> str:
    return a.text(string).upper()


@builtin("lower case", "string")
def lower_case(string: Any) -> str:
    return a.text(string).lower()


@builtin("substring before", "string, match")
def substring_before(string: Any, match: Any) -> str:
    s, m = a.text(string), a.text(match, "match")
    found = s.find(m)
    return s[:found] if found >= 0 else ""


@builtin("substring after", "string, match")
def substring_after(string: Any, match: Any) -> str:
    s, m = a.text(string), a.text(match, "match")
    found = s.find(m)
    return s[found + len(m) :] if found >= 0 else ""


@builtin("replace", "input, pattern, replacement, flags?")
def replace(input: Any, pattern: Any, replace_with: Any, flags: Any = None) -> str:
    regex = compile_pattern(a.text(pattern, "pattern"), a.text(flags, "flags") if flags is not None else "")
    if regex.match(""):
        raise FeelTypeError("pattern matches the empty string")
    template = replacement(a.text(replace_with, "replacement"), regex.groups)
    if flags is not None and "q" in flags:
        template = a.text(replace_with).replace("\\", "\\\\")
    return check_size(regex.sub(template, check_input(a.text(input, "input"))))


@builtin("contains", "string, match")
def contains(string: Any, match: Any) -> bool:
    return a.text(match, "match") in a.text(string)


@builtin("starts with", "string, match")
def starts_with(string: Any, match: Any) -> bool:
    return a.text(string).startswith(a.text(match, "match"))


@builtin("ends with", "string, match")
def ends_with(string: Any, match: Any) -> bool:
    return a.text(string).endswith(a.text(match, "match"))


@builtin("matches", "input, pattern, flags?")
def matches(input: Any, pattern: Any, flags: Any = None) -> bool:
    regex = compile_pattern(a.text(pattern, "pattern"), a.text(flags, "flags") if flags is not None else "")
    return regex.search(check_input(a.text(input, "input"))) is not None


@builtin("split", "string, delimiter")
def split(string: Any, delimiter: Any) -> list[str]:
    regex = compile_pattern(a.text(delimiter, "delimiter"))
    if regex.match(""):
        raise FeelTypeError("delimiter matches the empty string")
    s = check_input(a.text(string))
    parts, last = [], 0
    for found in regex.finditer(s):
        parts.append(s[last : found.start()])
        last = found.end()
    parts.append(s[last:])
    return parts


@builtin("extract", "string, pattern")
def extract(string: Any, pattern: Any) -> list[str]:
    regex = compile_pattern(a.text(pattern, "pattern"))
    return [found.group() for found in regex.finditer(check_input(a.text(string)))]


@builtin("string join", "list, delimiter?", "list")
def string_join(items: Any, delimiter: Any = None) -> str:
    values = a.strict_list(items)
    glue = "" if delimiter is None else a.text(delimiter, "delimiter")
    if any(v is not None and not isinstance(v, str) for v in values):
        raise FeelTypeError("string join needs a list of strings")
    return check_size(glue.join(v for v in values if v is not None))


@builtin("pad", "string, length, character?")
def pad(string: Any, length: Any, character: Any = " ") -> str:
    return a.text(string).ljust(a.integer(length, "length"), a.text(character, "character")[:1] or " ")
