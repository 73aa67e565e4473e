"""Delivery wake-ups: one ``LISTEN`` per host, handed to another worker when its holder dies."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from isthmus.adapters.storage.integration import DELIVERY_CHANNEL
from isthmus.adapters.storage.wakeups import DeliveryWakeups

WAIT_S = 30  # a bound on waits for another thread or process, never a timing assumption


def _notify(db_url: str) -> None:
    """What a webhook group's commit does: one NOTIFY on the delivery channel."""
    conninfo = make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f"NOTIFY {DELIVERY_CHANNEL}")


def _leader(db_url: str, directory: str, ready: multiprocessing.synchronize.Event) -> None:
    """A worker process that takes the lead, says so, and waits until it is killed."""
    wakeups = DeliveryWakeups(db_url, Path(directory))
    assert wakeups.wait(WAIT_S)  # took the lead: its listener's first look wakes it
    assert wakeups.listening
    ready.set()
    while True:
        wakeups.wait(60)


def _listening(wakeups: DeliveryWakeups) -> bool:
    return wakeups.listening


@pytest.fixture
def pg_url(db_url: str) -> str:
    if not db_url.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite workers poll (tested below)")
    return db_url


def test_one_worker_listens_and_another_is_woken_without_a_listen_of_its_own(
    pg_url: str, tmp_path: Path
) -> None:
    leader, follower = DeliveryWakeups(pg_url, tmp_path), DeliveryWakeups(pg_url, tmp_path)
    try:
        assert leader.wait(WAIT_S)  # took the lead; its listener's first look wakes a waiter
        assert leader.listening
        follower.wait(0)
        assert not follower.listening  # the lock is held: no LISTEN here
        _notify(pg_url)
        assert follower.wait(WAIT_S)  # woken through the host's pipe
        leader.pass_on()  # a full batch claimed: one more worker is woken
        assert follower.wait(WAIT_S)
    finally:
        leader.close()
        follower.close()


def test_when_the_leader_dies_another_worker_takes_over_the_listen(pg_url: str, tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    ready = context.Event()
    child = context.Process(target=_leader, args=(pg_url, str(tmp_path), ready), daemon=True)
    child.start()
    follower = DeliveryWakeups(pg_url, tmp_path)
    try:
        assert ready.wait(WAIT_S)
        follower.wait(0)
        assert not _listening(follower)
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)  # the kernel releases its lock
        child.join(WAIT_S)
        # the next waits take the lead; the only byte in the pipe is then the new listener's first look
        assert any(follower.wait(0.05) for _ in range(WAIT_S * 20))
        assert _listening(follower)
        _notify(pg_url)
        assert follower.wait(WAIT_S)  # and the notifications now come through it
    finally:
        follower.close()
        if child.is_alive():
            child.kill()


def test_on_sqlite_a_wait_is_a_timed_poll(db_url: str, tmp_path: Path) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the SQLite path")
    wakeups = DeliveryWakeups(db_url, tmp_path)
    wakeups.pass_on()
    assert wakeups.wait(0) is False
    assert not wakeups.listening
    assert not [path for path in tmp_path.iterdir() if path.suffix in (".fifo", ".lock")]
    wakeups.close()


def test_without_a_usable_pipe_a_worker_says_so_once_and_polls(
    pg_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wakeups = DeliveryWakeups(pg_url, tmp_path / "missing")  # no such directory: no pipe, no lock
    with caplog.at_level(logging.WARNING, logger="isthmus.worker"):
        assert wakeups.wait(0) is False
        assert wakeups.wait(0) is False
        wakeups.pass_on()
    assert [r.getMessage() for r in caplog.records] == ["delivery wake-up pipe unusable; this worker polls"]
    assert not wakeups.listening
    wakeups.close()
