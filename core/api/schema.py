"""drf-spectacular postprocessing hook: the error answers every API operation may give, documented once.

Views document their success answers and any error with a specific meaning; this adds the rest in the
shared error shape (`Error`, core.api.exceptions), so a client and schemathesis know every status code:
400 anywhere (a NUL in the path or a query value, a bad filter or body), 401 and 403 (the API key),
404 where the path or a filter names an object, 409 on writes (a conflict or an object in the wrong
state), 413 where there is a body. It then states what the inputs accept (`document_inputs`).
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
    return document_inputs(result)


# PostgreSQL text cannot hold a NUL: the API refuses one in any path segment, query value or body string
# (core.api.parsers, ingest), with a 400. The schema says so on every string it accepts.
NO_NUL = r"^[^\x00]*$"
# A required string (minLength 1) is read with its surrounding whitespace trimmed, so it needs one
# character that is neither NUL nor whitespace.
NOT_BLANK = r"^[^\x00]*[^\x00\s][^\x00]*$"
# A free-form object of the input (a rate's dimensions, an event's properties): string values without
# NUL (keys neither, which OpenAPI 3.0 has no `propertyNames` to say). Nested objects and lists are
# accepted too; the schema documents the flat form.
_FREE_FORM_VALUE = {"oneOf": [
    {"type": "string", "pattern": NO_NUL}, {"type": "number"}, {"type": "boolean"},
]}


def _no_nul(schema: Any) -> None:
    """Mark the strings SCHEMA accepts as NUL-free (in place), through objects, lists and combinators."""
    if not isinstance(schema, dict) or "$ref" in schema:
        return
    if schema.get("type") == "string" and not {"pattern", "enum", "format"} & schema.keys():
        schema["pattern"] = NOT_BLANK if schema.get("minLength", 0) >= 1 else NO_NUL
    for key in ("oneOf", "anyOf", "allOf"):
        for child in schema.get(key, []):
            _no_nul(child)
    _no_nul(schema.get("items"))
    for child in schema.get("properties", {}).values():
        _no_nul(child)
    if schema.get("type") == "object" and schema.get("additionalProperties") in ({}, True):
        schema["additionalProperties"] = _FREE_FORM_VALUE


def document_inputs(result: dict[str, Any]) -> dict[str, Any]:
    """What the API accepts, said in full: NUL-free strings, no unknown body keys, and `Error`'s one
    required key (a validation error answers `code` and `errors`, without `detail`)."""
    schemas = result.get("components", {}).get("schemas", {})
    if "Error" in schemas:
        schemas["Error"]["required"] = ["code"]
    for name, schema in schemas.items():
        # COMPONENT_SPLIT_REQUEST: every request body is a "...Request" component. Batches refuse an
        # unknown top-level key; the other bodies ignore one, so the contract is the documented keys.
        if name.endswith("Request"):
            _no_nul(schema)
            if schema.get("type") == "object" and "properties" in schema:
                schema.setdefault("additionalProperties", False)
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict):
                for parameter in operation.get("parameters", []):
                    _no_nul(parameter.get("schema"))
    return result
