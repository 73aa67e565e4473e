"""Settings come from a plain mapping, are frozen, and create the secret key safely."""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

import pytest

from isthmus.errors import ConfigurationError
from isthmus.settings import Secret, load_settings


def test_defaults_put_the_sqlite_database_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings({"ISTHMUS_DATA_DIR": str(tmp_path)})
    assert settings.db_url == f"sqlite:///{tmp_path / 'isthmus.db'}"
    assert (settings.language, settings.timezone.key) == ("zh_CN", "Asia/Shanghai")
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.language = "en"  # type: ignore[misc]


def test_secret_key_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    first = load_settings({"ISTHMUS_DATA_DIR": str(tmp_path)})
    key_file = tmp_path / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_settings({"ISTHMUS_DATA_DIR": str(tmp_path)}).secret_key == first.secret_key
    assert first.secret_key.reveal() not in repr(first)


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    load_settings({"ISTHMUS_DATA_DIR": str(tmp_path)})
    (tmp_path / "secret_key").chmod(0o644)
    with pytest.raises(ConfigurationError, match="mode 0600"):
        load_settings({"ISTHMUS_DATA_DIR": str(tmp_path)})


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("ISTHMUS_LANGUAGE", "fr", "expected one of zh_CN, en"),
        ("ISTHMUS_TIMEZONE", "Mars/Olympus", "unknown time zone"),
        ("ISTHMUS_SECRET_KEY", "short", "at least 32 characters"),
    ],
)
def test_bad_values_name_the_variable(tmp_path: Path, variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        load_settings({"ISTHMUS_DATA_DIR": str(tmp_path), variable: value})
    assert variable in caught.value.message


def test_given_values_win_and_with_db_replaces_only_the_url(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "ISTHMUS_DATA_DIR": str(tmp_path),
            "ISTHMUS_LANGUAGE": "en",
            "ISTHMUS_TIMEZONE": "Europe/Berlin",
            "ISTHMUS_SECRET_KEY": "k" * 40,
        }
    )
    moved = settings.with_db("postgresql://x@127.0.0.1/db")
    assert (moved.db_url, moved.language, moved.timezone.key) == (
        "postgresql://x@127.0.0.1/db",
        "en",
        "Europe/Berlin",
    )
    assert moved.secret_key == Secret("k" * 40)
