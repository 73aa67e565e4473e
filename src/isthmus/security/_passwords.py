"""Password hashing with argon2id at the OWASP Password Storage Cheat Sheet's first
recommended setting: m = 19 MiB, t = 2, p = 1."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from isthmus.errors import InvalidInput

MIN_LENGTH = 8
MAX_LENGTH = 256

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16)


def check_password_policy(password: str) -> None:
    """NIST SP 800-63B: length matters, composition rules do not."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput("password: expected at least {n} characters", n=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        raise InvalidInput("password: expected at most {n} characters", n=MAX_LENGTH)


def hash_password(password: str) -> str:
    check_password_policy(password)
    return str(_hasher.hash(password))


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return bool(_hasher.verify(password_hash, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's; rehash on next login."""
    return bool(_hasher.check_needs_rehash(password_hash))


# A real hash of a random password, verified against when the user does not exist, so the
# response time does not reveal which user names exist.
DUMMY_HASH = _hasher.hash("not-a-real-password-0f3c9a")
