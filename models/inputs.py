"""The base of every request body: unknown fields and characters XML cannot carry are refused."""

import re
from enum import Enum
from typing import Any, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    GetJsonSchemaHandler,
    ValidationInfo,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

# XML 1.0 forbids the C0 controls but tab, LF and CR, the surrogates and U+FFFE/U+FFFF, and
# CAP exports text as XML. DEL and the C1 controls XML allows, but no text needs them and they
# steer terminals and log viewers: refused too.
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# The same, as JSON Schema documents it (ECMA-262; valid JSON text carries no lone surrogate)
TEXT_PATTERN = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\uFFFE\uFFFF]*$"
UNTOUCHED = ("pattern", "enum", "const", "format")  # strings already narrower than text


def _control_in(value: Any) -> tuple[str, str] | None:
    """The first forbidden character in a string, or in the strings of a list or dict (a
    PATCH carries raw objects): where it is and its code point. Built only when found."""
    if isinstance(value, str):
        found = FORBIDDEN.search(value)
        return None if found is None else ("", f"U+{ord(found.group()):04X}")
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            if isinstance(item, float | int):
                continue  # positions: a polygon may hold a thousand
            inner = _control_in(item)
            if inner is not None:
                return f"item {index}: {inner[0]}", inner[1]
    elif isinstance(value, dict):
        for key, item in value.items():
            inner = _control_in(key)
            if inner is not None:
                return f"key {key!r}: ", inner[1]
            inner = _control_in(item)
            if inner is not None:
                return f"{key}: {inner[0]}", inner[1]
    return None


def _holds_text(annotation: Any) -> bool:
    """Whether a field of this type can hold text: str, Any, or a container of either. Enums,
    literals, numbers and times cannot; nested models check their own fields."""
    if annotation is Any:
        return True
    if isinstance(annotation, type):
        return issubclass(annotation, str) and not issubclass(annotation, Enum)
    return any(_holds_text(arg) for arg in get_args(annotation))


_text_fields: dict[type[BaseModel], frozenset[str]] = {}


def text_fields(model: type[BaseModel]) -> frozenset[str]:
    """The fields of a model that can hold text (worked out once per model)."""
    found = _text_fields.get(model)
    if found is None:
        found = _text_fields[model] = frozenset(
            name for name, field in model.model_fields.items() if _holds_text(field.annotation)
        )
    return found


def document_text(schema: dict[str, Any]) -> None:
    """Give every free-text string in a JSON Schema the pattern that refuses control
    characters, nested ones too (models behind a `$ref` document themselves)."""
    if schema.get("type") == "string" and not any(key in schema for key in UNTOUCHED):
        schema["pattern"] = TEXT_PATTERN
    for key in ("properties", "$defs"):
        for inner in schema.get(key, {}).values():
            document_text(inner)
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for inner in schema.get(key, []):
            document_text(inner)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            document_text(schema[key])


class Input(BaseModel):
    """Request bodies: unknown fields are refused, so nobody sets what they may not; so are
    control characters in any text, nested ones included (nested models check their own)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_controls(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None or info.field_name not in text_fields(cls):
            return value  # a polygon's thousand positions are not walked
        found = _control_in(value)
        if found is not None:
            where, code = found
            raise ValueError(f"{where}character {code} is not allowed: no control characters")
        return value

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """Document the refusal: clients (and the fuzz test) see it in the OpenAPI schema."""
        schema = handler(core_schema)
        document_text(handler.resolve_ref_schema(schema))
        return schema
