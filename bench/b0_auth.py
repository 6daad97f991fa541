"""B0 auth: `GET /v1/auth/me` and `POST /v1/auth/token` against bare endpoints of the same shape.

Token issue is bounded on purpose by an Argon2id verification (~20 ms of CPU per request, in a
thread), so its ratio is low by design; `/me` prices token checks, two reads and the middleware.
"""

from urllib.parse import urlencode

from bench import servers
from bench.compare import Comparison, Options, Side, compare
from bench.harness import BenchError
from bench.load import Request
from bench.profiling import profile_load

CLIENT_ID = "demo-th-mecc-duty"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _token_form(secret: str) -> str:
    return urlencode(
        {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": secret}
    )


def run(options: Options) -> list[Comparison]:
    workdir = options.workdir
    with servers.baseline(workdir) as base, servers.rilon(workdir) as (service, credentials):
        if CLIENT_ID not in credentials:
            raise BenchError(f"rilon demo printed no credentials for {CLIENT_ID}")
        form = _token_form(credentials[CLIENT_ID])
        # one token: every `/me` request of the run reuses it
        token = servers.access_token(service, CLIENT_ID, credentials[CLIENT_ID])
        auth = {"Authorization": "Bearer " + token}
        me = (
            Side(base, Request("/baseline/me", headers=auth)),
            Side(service, Request("/v1/auth/me", headers=auth)),
        )
        issue = (
            Side(base, Request("/baseline/token", "POST", FORM, form)),
            Side(service, Request("/v1/auth/token", "POST", FORM, form)),
        )
        results = [
            compare("GET /v1/auth/me", *me, options),
            compare("POST /v1/auth/token", *issue, options),
        ]
        if options.profile_dir is not None:
            profile_load(me[1], options, options.profile_dir / "b0-auth-me.txt")
    return results
