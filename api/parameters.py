"""Query and path parameters, checked once for every documented endpoint.

A query parameter the route does not declare is refused: a misspelt filter (`?sever1ty=extreme`)
that were ignored would answer with everything, and the duty officer would believe the filter
worked. One app-wide dependency compares the request's query keys with what the matched route
declares through all its dependencies. Control characters in any query or path value are
refused too, as in request bodies: PostgreSQL cannot even compare a string holding NUL.
"""

import difflib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import get_origin

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel

from api.deps import TOKEN_URL
from core.errors import Unprocessable
from models.inputs import FORBIDDEN

# RFC 6749 §3.2: the token endpoint MUST ignore request parameters it does not recognise.
IGNORES_UNKNOWN = frozenset({TOKEN_URL})
SEQUENCES = (list, tuple, set, frozenset)


@dataclass(frozen=True)
class Declared:
    names: frozenset[str]
    repeatable: frozenset[str]  # list-typed: may be given more than once


# by id: routes are unhashable; each is kept beside its entry, so its id is never reused
_declared: dict[int, tuple[APIRoute, Declared]] = {}


def declared_query(dependant: Dependant) -> Declared:
    """The query parameters a route declares, itself and through its dependencies."""
    names: set[str] = set()
    repeatable: set[str] = set()
    pending = [dependant]
    while pending:
        current = pending.pop()
        for field in current.query_params:
            annotation = field.field_info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                names.update(inner.alias or name for name, inner in annotation.model_fields.items())
                continue
            names.add(field.alias)
            if get_origin(annotation) in SEQUENCES:
                repeatable.add(field.alias)
        pending.extend(current.dependencies)
    return Declared(frozenset(names), frozenset(repeatable))


def _problem(key: str, declared: Declared) -> dict[str, str]:
    field = f"query.{key}"  # named as FastAPI names the query parameters it validates
    if key in declared.names:
        return {"field": field, "message": "given more than once; give it once"}
    if not key:
        return {"field": field, "message": "a query parameter without a name"}
    message = "unknown query parameter"
    close = difflib.get_close_matches(key, sorted(declared.names), n=1, cutoff=0.7)
    if close:
        message += f"; did you mean {close[0]}?"
    return {"field": field, "message": message}


def _controls(where: str, values: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    found = []
    for name, value in values:
        bad = FORBIDDEN.search(value)
        if bad is not None:
            code = f"U+{ord(bad.group()):04X}"
            found.append(
                {"field": f"{where}.{name}", "message": f"character {code} is not allowed"}
            )
    return found


async def refuse_bad_parameters(request: Request) -> None:
    """422 naming every parameter holding a control character, and every query parameter the
    route does not take (or takes once, given twice)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not route.include_in_schema:
        return  # the browser pages (docs, console) and the OAuth2 redirect take what they get
    if route.path_format in IGNORES_UNKNOWN:
        return
    controls = [
        *_controls("path", request.path_params.items()),
        *_controls("query", request.query_params.multi_items()),
    ]
    if controls:
        raise Unprocessable(controls)
    if not request.query_params:
        return
    cached = _declared.get(id(route))
    if cached is None:
        cached = _declared[id(route)] = (route, declared_query(route.dependant))
    declared = cached[1]
    counts = Counter(key for key, _value in request.query_params.multi_items())
    wrong = [
        key
        for key, count in counts.items()
        if key not in declared.names or (count > 1 and key not in declared.repeatable)
    ]
    if wrong:
        raise Unprocessable([_problem(key, declared) for key in wrong])
