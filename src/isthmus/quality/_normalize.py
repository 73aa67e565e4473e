"""Value normalizers: full-width → half-width, company suffixes, phone numbers, pattern classes.

Every normalizer is idempotent (``f(f(x)) == f(x)``), which the property tests pin: a cleansing run
applied twice changes nothing the second time.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

#: U+FF01..U+FF5E are the full-width forms of ASCII U+0021..U+007E (Unicode "Halfwidth and Fullwidth
#: Forms" block); U+3000 is the ideographic space.
_FULLWIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def to_halfwidth(text: str, *, nfkc: bool = False) -> str:
    """Full-width ASCII forms and the ideographic space to their half-width twins.

    Only that block is mapped by default: full NFKC also folds things a business may mean (``㈱``,
    superscripts, circled digits), so it is opt-in (``nfkc=True``).

    >>> to_halfwidth("ＡＢＣ１２３（集团）")
    'ABC123(集团)'
    """
    result = text.translate(_FULLWIDTH)
    return unicodedata.normalize("NFKC", result) if nfkc else result


@dataclass(frozen=True, slots=True)
class SuffixForm:
    """One canonical legal-form suffix and the spellings that mean it."""

    canonical: str
    variants: tuple[str, ...]


#: The default table; a rule file may extend or replace it. Longer variants are tried first, so
#: 股份有限公司 is never read as 有限公司 with a stray 股份.
DEFAULT_SUFFIXES: tuple[SuffixForm, ...] = (
    SuffixForm("股份有限公司", ("股份有限公司", "股份公司")),
    SuffixForm("有限公司", ("有限责任公司", "有限公司")),
    SuffixForm("(集团)", ("(集团)", "（集团）", "【集团】")),
    SuffixForm(
        "Co., Ltd.",
        ("co., ltd.", "co.,ltd.", "co., ltd", "co.,ltd", "co. ltd.", "co. ltd", "co ltd", "company limited"),
    ),
    SuffixForm("Inc.", ("inc.", "inc", "incorporated")),
    SuffixForm("Corp.", ("corp.", "corp", "corporation")),
    SuffixForm("Ltd.", ("ltd.", "ltd", "limited")),
)


class SuffixCanonicalizer:
    """Rewrite trailing legal-form suffixes to their canonical spelling (case-insensitive for Latin).

    >>> SuffixCanonicalizer().canonical("华通科技有限责任公司")
    '华通科技有限公司'
    >>> SuffixCanonicalizer().canonical("Acme co.,ltd")
    'Acme Co., Ltd.'
    """

    def __init__(self, forms: Sequence[SuffixForm] = DEFAULT_SUFFIXES) -> None:
        self.forms = tuple(forms)
        pairs = sorted(
            ((v, f.canonical) for f in self.forms for v in (*f.variants, f.canonical)),
            key=lambda p: -len(p[0]),
        )
        self._canonical_of = {_spaceless(v): c for v, c in pairs}
        # A Latin suffix must start a word: "Zinc" does not end in "Inc". Spaces inside a variant match
        # any run of white space ("Co.  Ltd." is "Co. Ltd."), and a comma may be followed by some.
        alternatives = "|".join(
            ("(?<![a-z0-9])" if v[:1].isascii() and v[:1].isalpha() else "") + _spaced(v) for v, _ in pairs
        )
        # One suffix at a time from the end, so "(集团)有限公司" canonicalizes both parts.
        self._tail = re.compile(rf"(?:\s*)({alternatives})\s*$", re.IGNORECASE)
        self._cache = lru_cache(maxsize=200_000)(self._canonical)

    def canonical(self, text: str) -> str:
        return self._cache(text)

    def _canonical(self, text: str) -> str:
        core, suffixes = self.split(text)
        if not suffixes:
            return text
        joined = ""
        for suffix in suffixes:
            latin = suffix[:1].isascii() and suffix[:1].isalpha()
            joined += (" " if latin and (core + joined)[-1:].isalnum() else "") + suffix
        return core + joined

    def split(self, text: str) -> tuple[str, list[str]]:
        """``text`` without its trailing suffixes, and their canonical forms in reading order."""
        core = text.rstrip()
        found: list[str] = []
        while core:
            match = self._tail.search(core)
            if match is None or match.start(1) == 0:
                break
            found.append(self._canonical_of[_spaceless(match.group(1))])
            core = core[: match.start()].rstrip(" ,")
        return (core, found[::-1]) if found else (text, [])

    def strip(self, text: str) -> str:
        """The name without its legal-form suffixes (the core that de-duplication compares)."""
        return self.split(text)[0]


def _spaceless(text: str) -> str:
    return re.sub(r"\s+", "", text).casefold()


def _spaced(variant: str) -> str:
    parts = [re.escape(word) for word in re.split(r"\s+", variant.strip())]
    return r"\s+".join(parts).replace(",", r",\s*")


def suffix_forms(table: Mapping[str, Sequence[str]]) -> tuple[SuffixForm, ...]:
    """A table ``{canonical: [variant, ...]}`` (as written in a rule file) as suffix forms."""
    return tuple(SuffixForm(canonical, tuple(variants)) for canonical, variants in table.items())


@lru_cache(maxsize=200_000)
def phone_e164(text: str, region: str = "CN") -> str | None:
    """A phone number in E.164 (``+8613800138000``), or None when it is not a possible number.

    >>> phone_e164("138-0013-8000")
    '+8613800138000'
    >>> phone_e164("+86 (10) 6552 9988")
    '+861065529988'
    """
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    # A local-only number ("12345") has no area code to complete it, so it has no E.164 form.
    if phonenumbers.is_possible_number_with_reason(number) != phonenumbers.ValidationResult.IS_POSSIBLE:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def pattern_class(text: str) -> str:
    """The shape of a value: digits → 9, Latin letters → A, CJK ideographs → 汉, the rest kept.

    >>> pattern_class("138-0013 8000"), pattern_class("上海ab1")
    ('999-9999 9999', '汉汉AA9')
    """
    out = []
    for ch in text:
        if ch.isdigit() and ch.isascii():
            out.append("9")
        elif ch.isascii() and ch.isalpha():
            out.append("A")
        elif "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf":
            out.append("汉")
        else:
            out.append(ch)
    return "".join(out)
