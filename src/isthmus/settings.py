"""Typed, frozen settings, resolved once at the edge from ``ISTHMUS_*`` variables.

The environment is passed in as a plain mapping (as Starlette's ``Config(environ=...)`` does), so
tests build settings without patching ``os.environ``.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from isthmus.errors import ConfigurationError

SUPPORTED_LANGUAGES = ("zh_CN", "en")
SECRET_KEY_FILE = "secret_key"


class Secret:
    """A string that never shows itself in ``repr``, ``str`` or logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and secrets.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything the product needs to start; build with :func:`load_settings`."""

    data_dir: Path
    db_url: str
    secret_key: Secret = field(repr=False)
    timezone: ZoneInfo
    language: str
    cookie_secure: bool = False
    max_upload_bytes: int = 10 * 1024 * 1024
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12

    def with_db(self, db_url: str | None) -> Settings:
        """The same settings on another database (the CLI's ``--db URL``)."""
        return self if not db_url else replace(self, db_url=db_url)


def default_data_dir(environ: Mapping[str, str]) -> Path:
    base = environ.get("XDG_DATA_HOME") or str(Path(environ.get("HOME", "~")).expanduser() / ".local/share")
    return Path(base) / "isthmus"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings from ``environ`` (default: the process environment).

    Creates the data dir, and a random secret key stored with mode 0600 on first run when
    ``ISTHMUS_SECRET_KEY`` is not given.
    """
    env = dict(os.environ) if environ is None else environ
    data_dir = Path(env.get("ISTHMUS_DATA_DIR") or default_data_dir(env)).expanduser().resolve()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(
            "ISTHMUS_DATA_DIR: cannot create {path}: {reason}", path=str(data_dir), reason=exc.strerror
        ) from exc
    db_url = env.get("ISTHMUS_DB_URL") or f"sqlite:///{data_dir / 'isthmus.db'}"
    language = env.get("ISTHMUS_LANGUAGE", "zh_CN").replace("-", "_")
    if language not in SUPPORTED_LANGUAGES:
        raise ConfigurationError(
            "ISTHMUS_LANGUAGE: expected one of {allowed}, got {value!r}",
            allowed=", ".join(SUPPORTED_LANGUAGES),
            value=language,
        )
    tz_name = env.get("ISTHMUS_TIMEZONE", "Asia/Shanghai")
    try:
        timezone = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigurationError("ISTHMUS_TIMEZONE: unknown time zone {value!r}", value=tz_name) from exc
    return Settings(
        data_dir=data_dir,
        db_url=db_url,
        secret_key=_secret_key(env, data_dir),
        timezone=timezone,
        language=language,
        cookie_secure=env.get("ISTHMUS_COOKIE_SECURE", "") in {"1", "true", "yes"},
    )


def _secret_key(env: Mapping[str, str], data_dir: Path) -> Secret:
    given = env.get("ISTHMUS_SECRET_KEY")
    if given:
        if len(given) < 32:
            raise ConfigurationError("ISTHMUS_SECRET_KEY: expected at least 32 characters")
        return Secret(given)
    path = data_dir / SECRET_KEY_FILE
    if path.exists():
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigurationError(
                "{path}: secret key file must be readable by its owner only (mode 0600)", path=str(path)
            )
        return Secret(path.read_text(encoding="ascii").strip())
    key = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting at once must not both write a key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return Secret(path.read_text(encoding="ascii").strip())
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return Secret(key)
