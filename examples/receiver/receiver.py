"""A minimal RILON webhook receiver: verify, de-duplicate, print one JSON line per event.

    pip install standardwebhooks
    WEBHOOK_SECRET=whsec_... python receiver.py --port 9000 --state seen.db

Standard library plus `standardwebhooks`. Each new event goes to stdout as one JSON line
(pipe it into your own system); anything else this program says goes to stderr. It keeps the
latest copy of each record in the state file, and obeys `*.redacted` and `*.purged` there:
do the same wherever your own system keeps what it read from stdout.
"""

import argparse
import json
import os
import sqlite3
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook, WebhookVerificationError

MAX_BODY_BYTES = 2 * 1024 * 1024  # RILON events are far smaller; refuse anything bigger unread
# What some events add beside the record: not part of the record itself
NEWS = ("acknowledgement", "ack_overdue", "coordination", "redaction")


class Seen:
    """The webhook-ids already processed, in a SQLite file so a restart does not forget them."""

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA secure_delete=ON")  # what a purge removes is zeroed on disk
        self.db.execute("CREATE TABLE IF NOT EXISTS seen (id TEXT PRIMARY KEY, at TEXT)")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS copies (id TEXT PRIMARY KEY, version INTEGER, doc TEXT)"
        )
        self.lock = threading.Lock()

    def process_once(self, webhook_id: str, event: dict[str, Any]) -> bool:
        """Emit the event unless its id was seen; False for a duplicate.

        The id is committed only once the line is written: a crash in between means the
        event is emitted again on the retry (at least once), never lost.
        """
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                added = self.db.execute(
                    "INSERT OR IGNORE INTO seen VALUES (?, datetime('now'))", (webhook_id,)
                ).rowcount
                if added:
                    self.keep(event)
                    emit(webhook_id, event)
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            if added and str(event.get("type", "")).endswith((".purged", ".redacted")):
                self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # nor in the log
            return bool(added)

    def keep(self, event: dict[str, Any]) -> None:
        """The latest copy of each record: replaced by a newer version, by the redacted text
        of the version kept, and dropped when the sender's agency purges the record."""
        kind, _, change = str(event.get("type", "")).partition(".")
        record = event.get("data") or {}
        if kind not in ("alert", "distress") or "id" not in record:
            return  # sightings, pings and news about the subscription itself
        if change == "purged" or "purged_at" in record:  # a notice, or an old event replayed
            self.db.execute("DELETE FROM copies WHERE id = ?", (record["id"],))
            return
        doc = {key: value for key, value in record.items() if key not in NEWS}
        if change == "redacted":
            self.db.execute(
                "UPDATE copies SET doc = ? WHERE id = ? AND version = ?",
                (json.dumps(doc), record["id"], record["version"]),
            )
            return
        self.db.execute(
            "INSERT INTO copies VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
            " version = excluded.version, doc = excluded.doc WHERE excluded.version >= version",
            (record["id"], record.get("version"), json.dumps(doc)),
        )


def emit(webhook_id: str, event: dict[str, Any]) -> None:
    """One JSON line for what a duty system needs first (the full record is in `data`)."""
    record = event.get("data") or {}
    line = {
        "webhook_id": webhook_id,
        "type": event.get("type"),
        "timestamp": event.get("timestamp"),
        "cursor": event.get("cursor"),
        "record_id": record.get("id"),
        "sender_agency": record.get("sender_agency"),
        "state": record.get("state"),
        "headline": record.get("headline"),  # alerts; distress reports have none
        "data": record,
    }
    print(json.dumps(line, ensure_ascii=False), flush=True)


def make_handler(webhook: Webhook, seen: Seen) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            declared = self.headers.get("Content-Length", "")
            length = int(declared) if declared.isdigit() else 0
            if not 0 < length <= MAX_BODY_BYTES:
                self.answer(413 if length else 400)
                return
            body = self.rfile.read(length)
            headers = {name.lower(): value for name, value in self.headers.items()}
            try:  # verify the raw bytes first: nothing unauthenticated is ever parsed
                event = webhook.verify(body, headers)
            except (WebhookVerificationError, ValueError) as exc:  # also malformed headers
                self.log_message("refused %s: %s", headers.get("webhook-id"), exc)
                self.answer(401)
                return
            new = seen.process_once(headers["webhook-id"], event)
            self.answer(204 if new else 200)  # a duplicate is still a success: stop retries

        def answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            sys.stderr.write(f"receiver: {format % args}\n")

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description="Receive RILON webhooks; print new events.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=9000, help="port (0: any free one)")
    parser.add_argument("--state", default="rilon-seen.db", help="SQLite file of seen ids")
    args = parser.parse_args()
    secret = os.environ.get("WEBHOOK_SECRET", "")
    try:
        webhook = Webhook(secret) if secret.startswith("whsec_") else None
    except (ValueError, EmptyWebhookSecretError):  # not base64 after the prefix
        webhook = None
    if webhook is None:
        sys.exit("receiver: set WEBHOOK_SECRET to the whsec_... secret of your subscription")
    handler = make_handler(webhook, Seen(args.state))
    server = ThreadingHTTPServer((args.host, args.port), handler)
    sys.stderr.write(f"receiver: listening on http://{args.host}:{server.server_port}/\n")
    sys.stderr.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
