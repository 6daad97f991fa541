#!/usr/bin/env node
// Verify RILON webhooks (Standard Webhooks signatures) with nothing but Node's built-ins.
//
//   verify(secret, headers, body) -> the event, or throws VerificationError
//
// Command line (body on stdin; exit 0 and the event on stdout, or exit 1 and why on stderr):
//   WEBHOOK_SECRET=whsec_... node verify.js --id ID --timestamp TS --signature "v1,..." < body.json
// A receiver on http://127.0.0.1:PORT/ (answers 204, 400 or 200 for a repeat; one JSON line a new event):
//   WEBHOOK_SECRET=whsec_... node verify.js serve --port 9100
"use strict";

const crypto = require("node:crypto");
const http = require("node:http");

const TOLERANCE_SECONDS = 5 * 60; // refuse deliveries signed more than 5 minutes off our clock

class VerificationError extends Error {}

function secretKey(secret) {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  if (key.length === 0) throw new Error("the webhook secret is empty");
  return key;
}

// headers: webhook-id, webhook-timestamp, webhook-signature (any case); body: the raw bytes.
function verify(secret, headers, body, now = Date.now() / 1000) {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const id = lower["webhook-id"];
  const timestamp = lower["webhook-timestamp"];
  const signatures = lower["webhook-signature"];
  if (!id || !timestamp || !signatures) throw new VerificationError("missing webhook headers");
  if (!/^\d+$/.test(timestamp)) throw new VerificationError("bad webhook-timestamp");
  if (Math.abs(now - Number(timestamp)) > TOLERANCE_SECONDS) {
    throw new VerificationError("timestamp outside the 5 minute tolerance");
  }
  const raw = Buffer.isBuffer(body) ? body : Buffer.from(body, "utf8");
  const expected = crypto
    .createHmac("sha256", secretKey(secret))
    .update(Buffer.concat([Buffer.from(`${id}.${timestamp}.`), raw]))
    .digest();
  // During a secret rotation there are two "v1,<base64>" entries: either may match.
  for (const entry of signatures.split(" ")) {
    const [version, value] = entry.split(",", 2);
    if (version !== "v1" || !value) continue;
    const given = Buffer.from(value, "base64");
    if (given.length === expected.length && crypto.timingSafeEqual(given, expected)) {
      return JSON.parse(raw.toString("utf8"));
    }
  }
  throw new VerificationError("no matching signature");
}

function option(args, name) {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function serve(secret, port) {
  const seen = new Set(); // a real receiver keeps webhook-ids in its database
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => {
      let event;
      try {
        event = verify(secret, req.headers, Buffer.concat(chunks));
      } catch (error) {
        res.writeHead(400).end(String(error.message));
        return;
      }
      const id = req.headers["webhook-id"];
      if (seen.has(id)) {
        res.writeHead(200).end(); // a retry of something already processed
        return;
      }
      seen.add(id);
      res.writeHead(204).end(); // answer fast; do the work after
      console.log(JSON.stringify({ "webhook-id": id, type: event.type, record: event.data.id }));
    });
  });
  server.listen(port, "127.0.0.1", () => console.error(`listening on 127.0.0.1:${port}`));
}

async function main(args) {
  const secret = process.env.WEBHOOK_SECRET;
  if (!secret) throw new Error("set WEBHOOK_SECRET to the subscription's whsec_ secret");
  if (args[0] === "serve") return serve(secret, Number(option(args, "--port") || 9100));
  const headers = {
    "webhook-id": option(args, "--id"),
    "webhook-timestamp": option(args, "--timestamp"),
    "webhook-signature": option(args, "--signature"),
  };
  try {
    process.stdout.write(JSON.stringify(verify(secret, headers, await readStdin())) + "\n");
  } catch (error) {
    if (!(error instanceof VerificationError)) throw error;
    process.stderr.write(`rejected: ${error.message}\n`);
    process.exitCode = 1;
  }
}

module.exports = { verify, VerificationError };

if (require.main === module) {
  main(process.argv.slice(2)).catch((error) => {
    process.stderr.write(`error: ${error.message}\n`);
    process.exitCode = 2;
  });
}
