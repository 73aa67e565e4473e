"""Reading an uploaded model file (BPMN, DMN): a multipart field ``file`` or the XML as the body."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

from isthmus.errors import InvalidInput, PayloadTooLarge

XML_TYPES = ("application/xml", "text/xml")


def xml_upload_doc(suffix: str) -> dict[str, Any]:
    """The OpenAPI request body of an endpoint that takes a ``.{suffix}`` file."""
    return {
        "requestBody": {
            "required": True,
            "description": f"A .{suffix} file as multipart field `file`, or the XML itself as the body "
            "(then `?filename=` names it in messages).",
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
                "application/xml": {"schema": {"type": "string"}},
            },
        }
    }


async def read_xml_upload(request: Request, limit: int, *, suffix: str) -> tuple[bytes, str]:
    """The file's bytes and name; at most ``limit`` bytes (PayloadTooLarge beyond)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        form = await request.form()
        try:
            file = form.get("file")
            if not isinstance(file, UploadFile):
                raise InvalidInput(
                    "file: expected a .{suffix} file in the multipart field 'file'",
                    field="file",
                    suffix=suffix,
                )
            data = await file.read(limit + 1)
            name = file.filename or f"upload.{suffix}"
        finally:
            await form.close()
    elif kind in XML_TYPES:
        data = await request.body()
        name = request.query_params.get("filename") or f"upload.{suffix}"
    else:
        raise InvalidInput(
            "expected a multipart upload (field 'file') or an application/xml body, got {kind!r}",
            kind=kind or "no content type",
        )
    if len(data) > limit:
        raise PayloadTooLarge("file: larger than {limit} bytes", limit=limit)
    return data, name
