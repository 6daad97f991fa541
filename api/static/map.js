"use strict";
// The map of the region: Natural Earth coasts (vendored world-atlas TopoJSON) under what the
// caller's token may see: open distress positions, alert positions and areas, a vessel's track.
// SVG built with DOM calls only (no inline styles: the page's CSP allows none).
const ConsoleMap = (() => {
  const SVG = "http://www.w3.org/2000/svg";
  // Bay of Bengal, Andaman Sea, Strait of Malacca and the waters off Sumatra and Java.
  const VIEW = { west: 78, east: 108, south: -9, north: 25, width: 1000 };
  const SQUASH = Math.cos(((VIEW.north + VIEW.south) / 2) * Math.PI / 180);
  VIEW.height = Math.round(
    (VIEW.width * (VIEW.north - VIEW.south)) / ((VIEW.east - VIEW.west) * SQUASH)
  );
  let svg = null;
  const layers = {};

  function node(tag, attrs, parent) {
    const el = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
    if (parent) parent.append(el);
    return el;
  }

  function xy([lon, lat]) {
    const x = ((lon - VIEW.west) / (VIEW.east - VIEW.west)) * VIEW.width;
    const y = ((VIEW.north - lat) / (VIEW.north - VIEW.south)) * VIEW.height;
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  }

  function ringsPath(rings) {
    return rings.map((ring) => "M" + ring.map(xy).join("L") + "Z").join("");
  }

  // Only the countries with a point near the view: the rest would be drawn off the map.
  function nearView(polygons) {
    return polygons.some((rings) => rings[0].some(([lon, lat]) =>
      lon > VIEW.west - 10 && lon < VIEW.east + 10 && lat > VIEW.south - 10 && lat < VIEW.north + 10));
  }

  async function init(container) {
    svg = node("svg", {
      id: "map", viewBox: `0 0 ${VIEW.width} ${VIEW.height}`, role: "img",
      "aria-label": "Map of the region with what your agency may see",
    });
    container.replaceChildren(svg);
    node("rect", { class: "sea", width: VIEW.width, height: VIEW.height }, svg);
    for (const name of ["land", "areas", "track", "alerts", "distress"]) {
      layers[name] = node("g", { class: name }, svg);
    }
    const response = await fetch("/static/console/vendor/countries-50m.json");
    if (!response.ok) throw new Error(`the basemap answered ${response.status}`);
    const world = await response.json();
    const countries = topojson.feature(world, world.objects.countries).features;
    for (const country of countries) {
      const geometry = country.geometry;
      if (!geometry) continue;
      const polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
      if (!nearView(polygons)) continue;
      const path = node("path", { d: polygons.map(ringsPath).join(""), class: "country" }, layers.land);
      node("title", {}, path).textContent = country.properties.name;
    }
  }

  function marker(layer, point, className, label, record, onPick) {
    const [cx, cy] = xy([point.lon, point.lat]).split(",");
    const dot = node("circle", { cx, cy, r: 9, class: className, tabindex: 0, "data-id": record.id }, layer);
    node("title", {}, dot).textContent = label;
    dot.addEventListener("click", () => onPick(record));
    return dot;
  }

  // Markers for the records in the tables, and alert areas; `onPick(record)` on a click.
  function drawRecords(distress, alerts, onPick) {
    if (!svg) return;
    for (const name of ["areas", "alerts", "distress"]) layers[name].replaceChildren();
    for (const alert of alerts) {
      if (alert.area) {
        node("path", { d: ringsPath(alert.area.coordinates), class: `area ${alert.severity}` }, layers.areas);
      }
      const label = `${alert.severity} · ${alert.headline} (${alert.sender_agency})`;
      marker(layers.alerts, alert.location, `alert ${alert.severity}`, label, alert, onPick);
    }
    for (const report of distress) {
      const label = `${report.sar_phase} phase · ${report.persons_on_board.estimate} persons (${report.sender_agency})`;
      marker(layers.distress, report.position, `distress ${report.sar_phase}`, label, report, onPick);
    }
  }

  // A vessel's track (GeoJSON LineString), or none.
  function drawTrack(line) {
    if (!svg) return;
    layers.track.replaceChildren();
    if (!line || line.coordinates.length === 0) return;
    node("polyline", { points: line.coordinates.map(xy).join(" "), class: "track" }, layers.track);
    const [x, y] = xy(line.coordinates[line.coordinates.length - 1]).split(",");
    node("circle", { cx: x, cy: y, r: 4, class: "track-end" }, layers.track);
  }

  function select(recordId) {
    if (!svg) return;
    for (const dot of svg.querySelectorAll("circle[data-id]")) {
      dot.classList.toggle("selected", dot.dataset.id === recordId);
    }
  }

  return { init, drawRecords, drawTrack, select };
})();
