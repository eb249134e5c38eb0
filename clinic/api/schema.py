"""OpenAPI additions: the shared error body on every operation, so the contract lists every error."""

from __future__ import annotations

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme

ERROR_RESPONSES = {
    "400": "The request is not valid (malformed JSON, wrong types, or a rule of the clinic refused it).",
    "401": "No valid credentials were given.",
    "403": "The caller may not do this.",
    "404": "No such record, or not one the caller may see.",
    "409": "The request collides with the current state (a bed taken, an overlap).",
    "412": "The record changed since the caller read it (If-Match did not match).",
    "428": "If-Match is required for this change.",
    "429": "Too many requests; try again later.",
    "503": "Signing in is briefly unavailable (the attempt counters cannot be reached); retry after Retry-After.",
}
_WRITE_ONLY = {"409"}
_UPDATE_ONLY = {"412", "428"}
_SIGN_IN_ONLY = {"503"}

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "Stable machine-readable reason."},
                "message": {"type": "string", "description": "A sentence for people."},
                "fields": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
            },
        }
    },
}


def _applies(code: str, method: str, path: str) -> bool:
    if code in _SIGN_IN_ONLY:
        return path.startswith("/api/v1/auth/")
    if code in _UPDATE_ONLY:
        return method in {"patch", "put"}
    if code in _WRITE_ONLY:
        return method not in {"get", "head", "options"}
    return True


def add_error_responses(result: dict, generator, request, public) -> dict:
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for code, description in ERROR_RESPONSES.items():
                if _applies(code, method, path):
                    responses.setdefault(code, {"description": description, "content": content})
    return result


def forbid_unknown_request_fields(result: dict, generator, request, public) -> dict:
    """Request bodies take only their declared fields (``clinic.api.strict.StrictInputMixin`` refuses the rest)."""
    schemas = result.get("components", {}).get("schemas", {})
    seen: set[str] = set()

    def close(schema: dict) -> None:
        ref = schema.get("$ref", "")
        if ref:
            name = ref.rsplit("/", 1)[-1]
            if name in seen or name not in schemas:
                return
            seen.add(name)
            schema = schemas[name]
        if schema.get("type") == "object" and "properties" in schema:
            schema["additionalProperties"] = False
            for child in schema["properties"].values():
                close(child)
        for key in ("items", "allOf", "oneOf", "anyOf"):
            value = schema.get(key)
            for child in value if isinstance(value, list) else [value] if isinstance(value, dict) else []:
                close(child)

    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for media in operation.get("requestBody", {}).get("content", {}).values():
                close(media.get("schema", {}))
    return result


class CallerJWTScheme(SimpleJWTScheme):
    """The bearer-JWT security scheme for ``CallerJWTAuthentication`` (simplejwt's, same tokens, same name).

    drf-spectacular's simplejwt extension matches that exact class only; without this the schema
    would lose its security scheme. Registered by being defined: ``ClinicConfig.ready`` imports this module.
    """

    target_class = "clinic.api.authentication.CallerJWTAuthentication"
