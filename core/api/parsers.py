"""The API's JSON parser: bounded size (413), nesting and no NUL characters (400), each naming `body`.

The standard library parser recurses once per level and raises RecursionError near a thousand
levels, a 500; and PostgreSQL text cannot hold a NUL, so a string carrying one would fail at the
database. Both are refused here, before any serializer sees the data. The ingestion endpoints read
their raw bodies themselves (ingest/http.py) and do not use this parser.
"""

import json
from typing import Any

from django.conf import settings
from rest_framework.parsers import BaseParser

from core.errors import DomainError, InvalidJson, PayloadTooLarge

# No request body of this API nests more than a few levels (a price book's tiers are the deepest);
# 32 leaves room and keeps every later walk (serializers, JSON columns) far from Python's recursion limit.
MAX_DEPTH = 32


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def json_checked(value: Any, *, max_depth: int = MAX_DEPTH) -> Any:
    """VALUE as parsed, once its nesting and strings are checked (iteratively: no recursion to overflow).

    A NUL is reported under the top-level key that holds it (the serializer's field), else under `body`.
    """
    stack: list[tuple[Any, int, str]] = [(value, 1, "body")]
    while stack:
        item, depth, field = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise DomainError(f"{field} contains a NUL character (\\u0000).", field=field)
            continue
        if isinstance(item, dict | list):
            if depth > max_depth:
                raise DomainError(f"The body nests deeper than {max_depth} levels.", field="body")
            if isinstance(item, list):
                stack.extend((child, depth + 1, field) for child in item)
                continue
            for key, child in item.items():
                child_field = key if depth == 1 and "\x00" not in key else field
                stack.append((key, depth + 1, field))
                stack.append((child, depth + 1, child_field))
    return value


class JSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        # Django's own limit (DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MB) guards request.body and forms only;
        # a stream read here would take any size, so the parser holds the API's bodies to it too.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = (stream.read() if limit is None else stream.read(limit + 1)) if stream is not None else b""
        if limit is not None and len(raw) > limit:
            raise PayloadTooLarge(f"The body is over the limit of {limit:,} bytes.", field="body")
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise InvalidJson(f"The body is not {encoding} text.", field="body") from exc
        try:
            value = json.loads(text, parse_constant=_reject_constant)
        except RecursionError as exc:
            raise DomainError(f"The body nests deeper than {MAX_DEPTH} levels.", field="body") from exc
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            raise InvalidJson(f"The body is not valid JSON: {exc}", field="body") from exc
        return json_checked(value)
