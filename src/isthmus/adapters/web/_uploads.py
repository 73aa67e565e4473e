"""Reading the file a person chose in an upload form (deploy a model, a decision, a flow).

One place for what every such form promises: a form sent without a file is refused with the
caller's own one-line message, a file is read at most up to ``ISTHMUS_MAX_UPLOAD_BYTES`` (one byte
more tells it is too large, without reading the rest), and text files must be UTF-8. Each refusal is
an ``InvalidInput`` the page shows above the form. (The API reads its uploads in
``adapters/api/uploads.py``: there the file may also come as the request body.)
"""

from __future__ import annotations

from starlette.datastructures import UploadFile

from isthmus.errors import InvalidInput, PayloadTooLarge


async def read_upload(file: UploadFile | None, limit: int, *, missing: InvalidInput) -> tuple[bytes, str]:
    """The chosen file's bytes and name; ``missing`` when no file was chosen, PayloadTooLarge beyond
    ``limit`` bytes."""
    if file is None or not file.filename:
        raise missing
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge("file: larger than {limit} bytes", limit=limit)
    return data, file.filename


async def read_text_upload(file: UploadFile | None, limit: int, *, missing: InvalidInput) -> tuple[str, str]:
    """As :func:`read_upload`, decoded as UTF-8 (InvalidInput for anything else)."""
    data, name = await read_upload(file, limit, missing=missing)
    try:
        return data.decode("utf-8"), name
    except UnicodeDecodeError:
        raise InvalidInput("file: not UTF-8 text") from None
