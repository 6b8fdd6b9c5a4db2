"""drf-spectacular postprocessing hook: the error answers every API operation may give, documented once.

Views document their success answers and any error with a specific meaning; this adds the rest in the
shared error shape (`Error`, core.api.exceptions), so a client and schemathesis know every status code:
400 anywhere (a NUL in the path or a query value, a bad filter or body), 401 and 403 (the API key),
404 where the path or a filter names an object, 409 on writes (a conflict or an object in the wrong
state), 413 where there is a body.
"""

from typing import Any

_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
_WRITES = {"post", "put", "patch", "delete"}


def _answers(method: str, operation: dict[str, Any]) -> dict[str, str]:
    parameters = operation.get("parameters", [])
    answers = {
        "400": "Malformed or out-of-range input; `errors` names the field or parameter at fault.",
        "401": "No API key, or an unknown or revoked one.",
        "403": "The API key may not do this (its scope, or a customer key outside its customer).",
    }
    if any(parameter.get("in") in ("path", "query") for parameter in parameters):
        answers["404"] = "The object the path or a filter names does not exist, or is not this key's to see."
    if method in _WRITES:
        answers["409"] = "The request conflicts with what exists, or the object is not in a state that allows it."
    if "requestBody" in operation:
        answers["413"] = "The body is over the size limit."
    return answers


def document_errors(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for status, description in _answers(method, operation).items():
                operation["responses"].setdefault(status, {"description": description, "content": _ERROR})
    return result
