"""Reading a batch's body: size limit, gzip, chunked transfer; and the paused collector around a batch."""

import functools
import gc
import zlib
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.conf import settings
from django.http import HttpRequest

from core.errors import BadEncoding, PayloadTooLarge

R = TypeVar("R")
P = ParamSpec("P")



def read_body(request: HttpRequest) -> bytes:
    """The raw request body, gunzipped when sent with Content-Encoding: gzip, within the size limit.

    Read from the stream rather than `request.body`, whose DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) would
    refuse batches our own limit allows.
    """
    limit = settings.INGEST_MAX_BODY_BYTES
    if not request.META.get("CONTENT_LENGTH") and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        # No length: Django would read nothing, so read the server's de-chunked stream (gunicorn's) itself.
        body = request.META["wsgi.input"].read(limit + 1)
    else:
        body = request.read(limit + 1)
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if encoding in {"gzip", "x-gzip"}:
        try:
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
            body = decompressor.decompress(body, limit + 1)
        except zlib.error as exc:
            raise BadEncoding("The body is not valid gzip.", field="body") from exc
    elif encoding not in {"", "identity"}:
        raise BadEncoding(f"Unsupported Content-Encoding {encoding!r}; use gzip.", field="Content-Encoding")
    if len(body) > limit:
        raise PayloadTooLarge(f"The body is larger than {limit} bytes.", field="body")
    return body



def gc_paused(function: Callable[P, R]) -> Callable[P, R]:
    """Run the decorated function with the cyclic garbage collector paused.

    A batch allocates tens of thousands of short-lived, acyclic objects, freed by reference
    counting; left on, the collector would walk them and the Django heap several times per batch.
    It is paused around the whole call so that the batch's objects are gone when it comes back:
    switched on while they were still alive, its first pass would walk every one of them.
    """
    @functools.wraps(function)
    def paused(*args: P.args, **kwargs: P.kwargs) -> R:
        if not gc.isenabled():
            return function(*args, **kwargs)
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            gc.enable()

    return paused


