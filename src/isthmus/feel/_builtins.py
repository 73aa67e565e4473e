"""Load every family of built-in functions; importing this module fills ``_functions.BUILTINS``."""

from __future__ import annotations

from isthmus.feel import (  # noqa: F401  (imported for their registrations)
    _builtins_context,
    _builtins_conversion,
    _builtins_list,
    _builtins_numeric,
    _builtins_range,
    _builtins_string,
    _builtins_temporal,
)
