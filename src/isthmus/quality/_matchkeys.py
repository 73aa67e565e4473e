"""Match keys for de-duplication, vectorised in Polars (one pass over a million rows takes seconds).

The keys are deliberately lossy: they erase what two spellings of one customer differ in (full-width
forms, case, punctuation, spaces, legal-form suffixes, phone formatting) and keep what tells two
customers apart. No key assumes whitespace between words: Chinese names are compared by characters.
"""

from __future__ import annotations

import polars as pl

_FULL = [chr(c) for c in range(0xFF01, 0xFF5F)] + ["\u3000"]
_HALF = [chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)] + [" "]

#: Legal-form words as they look after punctuation and spaces are removed, longest first.
LEGAL_FORMS = (
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "股份公司",
    "集团",
    "companylimited",
    "incorporated",
    "corporation",
    "coltd",
    "limited",
    "corp",
    "inc",
    "ltd",
)
_LEGAL_TAIL = "(?:" + "|".join(LEGAL_FORMS) + ")+$"


def plain_text(expr: pl.Expr) -> pl.Expr:
    """Half-width, lower case, no whitespace, punctuation or symbols."""
    return (
        expr.cast(pl.String)
        .str.replace_many(_FULL, _HALF)
        .str.to_lowercase()
        .str.replace_all(r"[\s\p{P}\p{S}]+", "")
    )


def name_key(expr: pl.Expr) -> pl.Expr:
    """The core of a company or person name: plain text without trailing legal-form suffixes."""
    key = plain_text(expr).str.replace(_LEGAL_TAIL, "")
    return pl.when(key.str.len_chars() > 0).then(key).otherwise(None)


def phone_key(expr: pl.Expr) -> pl.Expr:
    """The national significant number: digits only, without +86/0086 and the trunk 0.

    ``+86 138-0013-8000``, ``0086 13800138000`` and ``138 0013 8000`` share ``13800138000``;
    ``010-6552 9988`` and ``+86 10 65529988`` share ``1065529988``.
    """
    # Half-width first: Unicode \d would keep full-width digits, which then never match ASCII ones.
    digits = expr.cast(pl.String).str.replace_many(_FULL, _HALF).str.replace_all(r"[^0-9]", "")
    national = (
        pl.when(digits.str.len_chars() > 11).then(digits.str.replace(r"^(?:00)?86", "")).otherwise(digits)
    )
    key = national.str.replace(r"^0+", "")
    return pl.when(key.str.len_chars() >= 7).then(key).otherwise(None)


def address_key(expr: pl.Expr) -> pl.Expr:
    key = plain_text(expr)
    return pl.when(key.str.len_chars() > 0).then(key).otherwise(None)


def city_key(expr: pl.Expr) -> pl.Expr:
    """City without the administrative 市 (上海市 = 上海) and without case or spaces."""
    key = plain_text(expr).str.replace(r"市$", "")
    return pl.when(key.str.len_chars() > 0).then(key).otherwise(None)
