"""OpenAPI operation ids that generated clients can call: `alerts_list`, `subscriptions_ping`.

One rule names every operation from its method and path, so a new route gets a fitting id
without anyone choosing one. The resource is the path's fixed segments after `/v1`, in
snake_case, nested ones joined (`/v1/alerts/{record_id}/versions` -> `alerts_versions`); the
verb depends on what the path ends in:

- an id: GET `get`, PATCH/PUT `update`, DELETE `delete` (`alerts_get`);
- a collection, a plural segment: GET `list`, POST `create` (`alerts_versions_list`);
- one thing, a singular segment: GET `get` (`feed_get`, `auth_me_get`), while a POST is the
  action that segment names, with no verb added (`alerts_cancel`, `deliveries_redeliver`).

The ids are part of the public contract: tests/test_openapi_ids.py pins them.
"""

from fastapi.routing import APIRoute

VERSION_PREFIX = "v1"
VERBS = {"GET": "get", "POST": "create", "PATCH": "update", "PUT": "update", "DELETE": "delete"}
# The few routes the rule would misname, keyed by (method, path).
NAMES = {
    ("GET", "/metrics"): "metrics_get",  # uncountable: the plural test reads it as a collection
}


def _is_parameter(segment: str) -> bool:
    return segment.startswith("{")


def _is_collection(segment: str) -> bool:
    return segment.endswith("s")


def operation_id(route: APIRoute) -> str:
    """Name the operation of `route` by the rule of this module."""
    method = min(route.methods or ["GET"])  # one per route here (of GET and HEAD: GET)
    explicit = NAMES.get((method, route.path_format))
    if explicit is not None:
        return explicit
    segments = [part for part in route.path_format.split("/") if part]
    if segments[:1] == [VERSION_PREFIX]:
        segments = segments[1:]
    segments = segments or ["root"]
    resource = [part.replace("-", "_") for part in segments if not _is_parameter(part)]
    last = segments[-1]
    if _is_parameter(last) or method not in ("GET", "POST"):
        verb = VERBS.get(method, method.lower())
    elif _is_collection(last):
        verb = "list" if method == "GET" else "create"
    else:
        verb = "get" if method == "GET" else ""  # a POST to a singular segment is its action
    return "_".join([*resource, verb] if verb else resource)
