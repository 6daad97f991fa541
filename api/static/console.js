"use strict";
// The duty console: reads with the caller's own token, shows what that token may see.
let token = null;
let myAgency = null;

const $ = (selector) => document.querySelector(selector);
const MAX_RECORDS = 1000; // per table: a watch floor needs the picture, not an archive
const ACK_READS_AT_ONCE = 6;
const STALE_HOURS = 6; // a position older than this is flagged: the boat has moved on
let picked = null; // the record id to show once the tables are filled (`#select=` too)
let shown = { distress: [], alerts: [] };

function cell(text, className, title) {
  const td = document.createElement("td");
  td.textContent = text ?? "";
  if (className) td.className = className;
  if (title) td.title = title;
  return td;
}

async function api(path) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
  if (response.status === 401) {
    token = null;
    $("#signin").hidden = false;
    $("main").hidden = true; // stale tables must not pass for current ones
    throw new Error("Your token has expired or is not valid: sign in again.");
  }
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    throw new Error(problem.detail || `${path} answered ${response.status}`);
  }
  return response.json();
}

// Every page of a list (newest first), up to MAX_RECORDS; `more` says some were left out.
async function everything(path) {
  const items = [];
  let cursor = null;
  do {
    const page = await api(path + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""));
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < MAX_RECORDS);
  return { items: items.slice(0, MAX_RECORDS), more: Boolean(cursor) || items.length > MAX_RECORDS };
}

// "2 of 14 acknowledged · yours pending · waiting for …": red while your agency owes one.
async function acks(kind, record) {
  if (!record.handling.ack_required) return ["not requested", ""];
  const state = await api(`/v1/${kind}/${record.id}/acks`);
  const done = state.acknowledged.map((a) => a.agency);
  const waiting = state.pending;
  const parts = [`${done.length} of ${done.length + waiting.length} acknowledged`];
  if (waiting.includes(myAgency)) parts.push("yours pending");
  else if (done.includes(myAgency)) parts.push("yours done");
  if (waiting.length) {
    const named = waiting.slice(0, 4).join(", ");
    parts.push(`waiting for ${named}` + (waiting.length > 4 ? ` and ${waiting.length - 4} more` : ""));
  }
  if (state.overdue) parts.push(`overdue since ${state.due_at.replace("T", " ").slice(0, 16)}`);
  const detail = `Acknowledged: ${done.join(", ") || "none"}\nWaiting for: ${waiting.join(", ") || "none"}`;
  const flag = state.overdue ? "overdue" : waiting.includes(myAgency) ? "pending" : "";
  return [parts.join(" · "), flag, detail];
}

// Acknowledgement states of many records, a few requests at a time, in the records' order.
async function allAcks(kind, records) {
  const results = new Array(records.length);
  let next = 0;
  async function worker() {
    while (next < records.length) {
      const i = next++;
      results[i] = await acks(kind, records[i]).catch((e) => [e.message, "pending"]);
    }
  }
  await Promise.all(Array.from({ length: ACK_READS_AT_ONCE }, worker));
  return results;
}

function where(point) {
  return `${point.lat.toFixed(3)}, ${point.lon.toFixed(3)}`;
}

// "6.120, 95.310 · 3 h ago", flagged stale past STALE_HOURS: the age of the fix (or sighting
// of an alert), as the service computed it when it answered (`position_age_seconds`).
function positionCell(point, ageSeconds) {
  if (ageSeconds === null || ageSeconds === undefined) return [where(point), "nowrap"];
  const hours = ageSeconds / 3600;
  const age = hours < 1 ? `${Math.max(0, Math.round(hours * 60))} min ago` : `${Math.round(hours)} h ago`;
  return [`${where(point)} · ${age}`, hours > STALE_HOURS ? "nowrap stale" : "nowrap"];
}

function pick(kind, record) {
  picked = record.id;
  for (const row of document.querySelectorAll("tr[data-id]")) {
    row.classList.toggle("selected", row.dataset.id === record.id);
  }
  showCase(record, kind);
}

async function fill(tableId, kind, list, columns) {
  const table = $(`#${tableId}`);
  const body = table.tBodies[0];
  const width = table.tHead.rows[0].cells.length;
  const notice = (text) => {
    const td = cell(text, "empty");
    td.colSpan = width;
    body.insertRow().append(td);
  };
  const states = await allAcks(kind, list.items);
  body.replaceChildren();
  if (!list.items.length) notice("Nothing visible to your agency.");
  list.items.forEach((record, i) => {
    const row = body.insertRow();
    row.dataset.id = record.id;
    row.tabIndex = 0;
    row.addEventListener("click", () => pick(kind, record));
    for (const [text, className] of columns(record)) row.append(cell(text, className));
    row.append(cell(...states[i]));
  });
  if (list.more) notice(`Only the newest ${MAX_RECORDS} are shown: use the API for the rest.`);
}

async function refresh() {
  $("#error").textContent = "";
  try {
    const [distress, alerts] = await Promise.all([
      everything("/v1/distress-reports?state=open&limit=200"),
      everything("/v1/alerts?state=active&limit=200"),
    ]);
    await fill("distress", "distress-reports", distress, (r) => [
      [r.updated_at.replace("T", " ").slice(0, 16), "nowrap"],
      [r.sar_phase, r.sar_phase === "alert" ? "alert-phase" : r.sar_phase],
      positionCell(r.position, r.position_age_seconds),
      [String(r.persons_on_board.estimate) + (r.persons_on_board.children ? ` (${r.persons_on_board.children} children)` : "")],
      [r.nature_of_distress.map((n) => n.replaceAll("_", " ")).join(", ")],
      [r.sender_agency, "nowrap"],
      [r.coordinating_rcc || "", "nowrap"],
      [String(r.sitrep_number)],
    ]);
    await fill("alerts", "alerts", alerts, (r) => [
      [r.updated_at.replace("T", " ").slice(0, 16), "nowrap"],
      [r.severity, r.severity],
      [r.category.replaceAll("_", " ")],
      [r.headline],
      positionCell(r.location, r.position_age_seconds),
      [r.sender_agency, "nowrap"],
      [r.handling.tlp.toUpperCase()],
    ]);
    shown = { distress: distress.items, alerts: alerts.items };
    ConsoleMap.drawRecords(distress.items, alerts.items, (record) =>
      pick(record.kind === "alert" ? "alerts" : "distress-reports", record));
    const again = [...distress.items, ...alerts.items].find((r) => r.id === picked);
    if (again) pick(again.kind === "alert" ? "alerts" : "distress-reports", again);
    $("#updated").textContent = `Updated ${new Date().toISOString().slice(11, 19)} UTC`;
  } catch (error) {
    $("#error").textContent = error.message;
  }
}

async function start(newToken) {
  token = newToken;
  try {
    const me = await api("/v1/auth/me");
    myAgency = me.agency.code;
    $("#who").textContent = `${me.client_name} · ${me.agency.name} (${me.agency.code})`;
  } catch (error) {
    token = null;
    $("#error").textContent = error.message;
    return;
  }
  $("#signin").hidden = true;
  $("main").hidden = false;
  await ConsoleMap.init($("#map-frame")).catch((error) => {
    $("#error").textContent = `The map could not be drawn: ${error.message}`;
  });
  await refresh();
}

// A token handed over in the fragment (`/console#token=…`) signs in without the form, for
// wall displays and automation. Browsers never send the fragment to a server (so it reaches
// no access log or Referer); it is removed from the address bar and history entry at once.
function tokenFromFragment() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  picked = fragment.get("select"); // a record to open at once, e.g. from a link in an alert
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  return fragment.get("token");
}

$("#signin").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  form.append("grant_type", "client_credentials");
  const response = await fetch("/v1/auth/token", { method: "POST", body: new URLSearchParams(form) });
  const answer = await response.json();
  if (!response.ok) {
    $("#error").textContent = answer.detail || "Sign-in failed";
    return;
  }
  event.target.reset();
  await start(answer.access_token);
});
$("#refresh").addEventListener("click", refresh);
setInterval(() => { if (token) refresh(); }, 30000);

const handed = tokenFromFragment();
if (handed) start(handed);
