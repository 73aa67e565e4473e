"""Typed, frozen settings, resolved once at the edge from ``ISTHMUS_*`` variables.

The environment is passed in as a plain mapping (as Starlette's ``Config(environ=...)`` does), so
tests build settings without patching ``os.environ``.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
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
    # Retention (ISTHMUS_JOB_RETENTION, ISTHMUS_MESSAGE_RETENTION): finished jobs (done, cancelled)
    # and delivered outbox messages older than this are purged by the worker; ``None`` keeps them.
    # Incidents and dead letters are never purged automatically. See docs/jobs.md#retention.
    job_retention: timedelta | None = timedelta(days=7)
    message_retention: timedelta | None = timedelta(days=30)

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
        job_retention=_retention(env, "ISTHMUS_JOB_RETENTION", "7d"),
        message_retention=_retention(env, "ISTHMUS_MESSAGE_RETENTION", "30d"),
    )


_DURATION = re.compile(r"(\d+)\s*([smhdw])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}


def parse_duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``12h``, ``7d``, ``2w`` or a sum of them (``1d12h``); ValueError otherwise."""
    compact = text.strip().lower().replace(" ", "")
    parts = _DURATION.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"expected a duration like 7d, 12h, 30m or 1d12h, got {text!r}")
    return timedelta(seconds=sum(int(n) * _UNIT_S[u] for n, u in parts))


def _retention(env: Mapping[str, str], name: str, default: str) -> timedelta | None:
    """A retention period, at least one hour; ``never`` keeps everything."""
    value = env.get(name, default).strip()
    if value.lower() == "never":
        return None
    try:
        found = parse_duration(value)
    except ValueError as exc:
        raise ConfigurationError("{name}: {reason}", name=name, reason=str(exc)) from exc
    if found < timedelta(hours=1):
        raise ConfigurationError("{name}: at least 1h (or never), got {value!r}", name=name, value=value)
    return found


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
