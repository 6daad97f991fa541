"""OpenAPI links: what a created resource's id opens next (clients and schemathesis follow them)."""

from typing import Any

RECORD_ID = {"record_id": "$response.body#/id"}
SUBSCRIPTION_ID = {"subscription_id": "$response.body#/id"}

# (method, path, status) of the producing operation -> {link name: (method, path, parameters)}
LINKS: dict[tuple[str, str, str], dict[str, tuple[str, str, dict[str, str]]]] = {
    ("post", "/v1/agencies", "201"): {
        "GetAgency": ("get", "/v1/agencies/{code}", {"code": "$response.body#/code"}),
        "CreateClient": ("post", "/v1/agencies/{code}/clients", {"code": "$response.body#/code"}),
        "ListClients": ("get", "/v1/agencies/{code}/clients", {"code": "$response.body#/code"}),
    },
    ("post", "/v1/agencies/{code}/clients", "201"): {
        "DeactivateClient": (
            "delete",
            "/v1/clients/{client_id}",
            {"client_id": "$response.body#/client_id"},
        ),
    },
    ("post", "/v1/subscriptions", "201"): {
        name: (method, "/v1/subscriptions/{subscription_id}" + suffix, SUBSCRIPTION_ID)
        for name, method, suffix in (
            ("GetSubscription", "get", ""),
            ("UpdateSubscription", "patch", ""),
            ("DeleteSubscription", "delete", ""),
            ("RotateSecret", "post", "/rotate-secret"),
            ("Ping", "post", "/ping"),
            ("Enable", "post", "/enable"),
            ("Replay", "post", "/replay"),
            ("Deliveries", "get", "/deliveries"),
        )
    },
}

RECORD_LINKS = (
    ("Get", "get", ""),
    ("Update", "patch", ""),
    ("Versions", "get", "/versions"),
    ("Acknowledge", "post", "/acks"),
    ("Acknowledgements", "get", "/acks"),
)
for kind, extras in (
    ("alerts", (("Cancel", "post", "/cancel"), ("Cap", "get", "/cap"))),
    ("distress-reports", (("Close", "post", "/close"),)),
):
    for status in ("201", "200"):  # published, and each later version
        producer = (
            ("post", f"/v1/{kind}", status)
            if status == "201"
            else ("patch", f"/v1/{kind}/{{record_id}}", status)
        )
        LINKS[producer] = {
            name: (method, f"/v1/{kind}/{{record_id}}{suffix}", RECORD_ID)
            for name, method, suffix in (*RECORD_LINKS, *extras)
        }


def _ref(method: str, path: str) -> str:
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


def add_links(schema: dict[str, Any]) -> None:
    """Add the links of `LINKS` to the responses that produce the ids."""
    paths = schema.get("paths", {})
    for (method, path, status), links in LINKS.items():
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is None:
            continue
        response["links"] = {
            name: {"operationRef": _ref(target_method, target), "parameters": parameters}
            for name, (target_method, target, parameters) in links.items()
            if target_method in paths.get(target, {})
        }
