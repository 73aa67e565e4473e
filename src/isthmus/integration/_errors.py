"""Errors connectors raise: the mixin decides whether the outbox tries the message again."""

from __future__ import annotations

from isthmus.errors import IntegrationFailure, IsthmusError, Terminal


class TargetUnavailable(IntegrationFailure):
    """The target could not take the message now (refused, timed out, 5xx, 429): retry later."""

    code = "target_unavailable"
    title = "Target unavailable"


class TargetRejected(IsthmusError, Terminal):
    """The target refused the message itself (a 4xx, a constraint): retrying cannot help."""

    code = "target_rejected"
    title = "Target rejected the message"


class ChunkLost(IsthmusError, Terminal):
    """A claim-checked chunk's file is gone or altered: retrying cannot bring its rows back (the
    source can be read again; the message's row span says which rows)."""

    code = "chunk_lost"
    title = "Chunk file lost"
