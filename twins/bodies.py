"""Read a JSON request body within limits, for the device endpoints."""

import json
from dataclasses import dataclass

from django.core.exceptions import RequestDataTooBig


@dataclass
class BodyError(Exception):
    """A request body that cannot be read; ``status`` is 400 or 413."""

    status: int
    value: object
    message: str


def read_json_body(request, max_bytes: int) -> object:
    """Return the parsed JSON body, or raise BodyError naming what is wrong.

    The declared length is checked before the body is read, so an oversized
    upload is rejected without holding it in memory.
    """
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > max_bytes:
        raise BodyError(413, declared, f"body over {max_bytes} bytes")
    try:
        body = request.body
    except RequestDataTooBig:
        raise BodyError(413, None, f"body over {max_bytes} bytes") from None
    if len(body) > max_bytes:
        raise BodyError(413, len(body), f"body over {max_bytes} bytes")
    # PostgreSQL text cannot hold NUL, so such a body could never be stored.
    if b"\x00" in body or b"\\u0000" in body:
        raise BodyError(400, None, "invalid JSON: NUL characters are not allowed")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BodyError(400, None, "invalid JSON") from None
    except RecursionError:
        raise BodyError(400, None, "invalid JSON: nested too deeply") from None
