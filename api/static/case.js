"use strict";
// The picked record's case: every record and sighting of it you may read, in time order, and
// its vessel's track on the map. Without a case (or before cases exist), the record's versions.
const VESSEL_KEYS = [["mmsi", "mmsi"], ["imo", "imo"], ["call_sign", "callsign"]];

function vesselKey(record) {
  const vessels = record.vessels || (record.vessel ? [record.vessel] : []);
  for (const vessel of vessels) {
    for (const [field, prefix] of VESSEL_KEYS) {
      if (vessel[field]) return `${prefix}:${vessel[field]}`;
    }
  }
  return null;
}

function summary(record) {
  if (record.kind === "alert") return `${record.severity} · ${record.headline}`;
  const persons = record.persons_on_board ? `${record.persons_on_board.estimate} persons` : "";
  return [record.sar_phase && `${record.sar_phase} phase`, persons, record.outcome].filter(Boolean).join(" · ");
}

// When what a record reports happened (its sighting or fix), else when it was last posted:
// a case is read as the boat's story, not the order reports reached the service.
function happened(record) {
  return record.observed_at || (record.position && record.position.fix_time) || record.updated_at;
}

async function caseEntries(record, kind) {
  if (record.case_id) {
    const found = await api(`/v1/cases/${encodeURIComponent(record.case_id)}`).catch(() => null);
    if (found) {
      const records = found.records.map((r) => ({
        at: happened(r), what: `${r.kind} v${r.version}`, who: r.sender_agency, text: summary(r),
      }));
      const sightings = (found.sightings || []).map((s) => ({
        at: s.observed_at, what: "sighting", who: s.reported_by,
        text: `${s.source} at ${where(s.position)}` + (s.persons_seen ? ` · ${s.persons_seen} persons seen` : ""),
      }));
      return [`Case ${record.case_id}`, [...records, ...sightings]];
    }
  }
  const versions = await api(`/v1/${kind}/${record.id}/versions`);
  const entries = versions.items.map((r) => ({
    at: r.updated_at, what: `v${r.version}`, who: r.sender_agency, text: summary(r),
  }));
  return [`${record.kind === "alert" ? "Alert" : "Distress report"} ${record.id.slice(0, 8)}`, entries];
}

async function showCase(record, kind) {
  ConsoleMap.select(record.id);
  const panel = $("#case");
  panel.hidden = false;
  try {
    const [title, entries] = await caseEntries(record, kind);
    entries.sort((a, b) => a.at.localeCompare(b.at));
    $("#case-title").textContent = title;
    $("#case-events").replaceChildren(...entries.map((entry) => {
      const item = document.createElement("li");
      const when = document.createElement("time");
      when.textContent = entry.at.replace("T", " ").slice(0, 16);
      item.append(when, ` ${entry.what} · ${entry.who} · ${entry.text}`);
      return item;
    }));
  } catch (error) {
    $("#case-title").textContent = error.message;
  }
  const key = vesselKey(record);
  const vessel = key ? await api(`/v1/vessels/${encodeURIComponent(key)}`).catch(() => null) : null;
  ConsoleMap.drawTrack(vessel && vessel.track);
  $("#case-vessel").textContent = vessel ? `Track of ${key}` : key ? `${key}: no track you may see` : "";
}
