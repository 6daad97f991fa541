"use strict";
// The duty console: reads with the caller's own token, shows what that token may see.
let token = null;

const $ = (selector) => document.querySelector(selector);

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text ?? "";
  if (className) td.className = className;
  return td;
}

async function api(path) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
  if (response.status === 401) {
    token = null;
    $("#signin").hidden = false;
    throw new Error("Your token has expired: sign in again.");
  }
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    throw new Error(problem.detail || `${path} answered ${response.status}`);
  }
  return response.json();
}

async function acks(kind, record) {
  if (!record.handling.ack_required) return ["not requested", ""];
  const state = await api(`/v1/${kind}/${record.id}/acks`);
  const done = state.acknowledged.map((a) => a.agency);
  const text = `${done.length} acknowledged` + (state.pending.length ? `, waiting for ${state.pending.join(", ")}` : "");
  return [text, state.pending.length ? "pending" : ""];
}

function where(point) {
  return `${point.lat.toFixed(3)}, ${point.lon.toFixed(3)}`;
}

async function fill(tableId, kind, records, columns) {
  const body = $(`#${tableId} tbody`);
  body.replaceChildren();
  if (!records.length) {
    const row = body.insertRow();
    const td = cell("Nothing visible to your agency.", "empty");
    td.colSpan = 9;
    row.append(td);
    return;
  }
  for (const record of records) {
    const row = body.insertRow();
    for (const [text, className] of columns(record)) row.append(cell(text, className));
    const [ackText, ackClass] = await acks(kind, record).catch((e) => [e.message, "pending"]);
    row.append(cell(ackText, ackClass));
  }
}

async function refresh() {
  $("#error").textContent = "";
  try {
    const [distress, alerts] = await Promise.all([
      api("/v1/distress-reports?state=open&limit=100"),
      api("/v1/alerts?state=active&limit=100"),
    ]);
    await fill("distress", "distress-reports", distress.items, (r) => [
      [r.updated_at.replace("T", " ").slice(0, 16)],
      [r.sar_phase, r.sar_phase === "alert" ? "alert-phase" : r.sar_phase],
      [where(r.position)],
      [String(r.persons_on_board.estimate) + (r.persons_on_board.children ? ` (${r.persons_on_board.children} children)` : "")],
      [r.nature_of_distress.join(", ")],
      [r.sender_agency],
      [r.coordinating_rcc || ""],
      [String(r.sitrep_number)],
    ]);
    await fill("alerts", "alerts", alerts.items, (r) => [
      [r.updated_at.replace("T", " ").slice(0, 16)],
      [r.severity, r.severity],
      [r.category.replaceAll("_", " ")],
      [r.headline],
      [where(r.location)],
      [r.sender_agency],
      [r.handling.tlp.toUpperCase()],
    ]);
    $("#updated").textContent = `Updated ${new Date().toISOString().slice(11, 19)} UTC`;
  } catch (error) {
    $("#error").textContent = error.message;
  }
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
  token = answer.access_token;
  event.target.reset();
  event.target.hidden = true;
  const me = await api("/v1/auth/me");
  $("#who").textContent = `${me.client_name} · ${me.agency.name} (${me.agency.code})`;
  $("main").hidden = false;
  await refresh();
});
$("#refresh").addEventListener("click", refresh);
setInterval(() => { if (token) refresh(); }, 30000);
