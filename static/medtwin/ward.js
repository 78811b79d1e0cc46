// Live ward overview: one tile per bed, kept current over a WebSocket. Every
// bed and alert frame carries the bed's sequence number. A gap means a frame
// was lost, so the page requests a fresh snapshot.
(function () {
  "use strict";

  const config = window.MEDTWIN;
  const live = window.MedTwinLive;
  const beds = new Map();
  const grid = document.getElementById("beds");
  const sortSelect = document.getElementById("sort");
  const filterSelect = document.getElementById("filter");
  let socket = null;

  function send(message) {
    if (socket) socket.send(message);
  }

  function highestPriority(bed) {
    let rank = 0;
    for (const alert of bed.alerts || []) {
      rank = Math.max(rank, (live.PRIORITY[alert.priority] || { rank: 0 }).rank);
    }
    return rank;
  }

  // A bed with signal lost sorts with medium risk: its risk is unknown, and
  // unknown must not sink to the bottom with the low-risk beds.
  function riskKey(bed) {
    const band = live.bandOf(bed);
    const bandRank = band === "unknown" ? 2 : live.BAND[band].rank;
    const aggregate = live.isSignalLost(bed) ? 0 : (bed.news2 || {}).aggregate || 0;
    return [highestPriority(bed), bandRank, aggregate];
  }

  function compareRisk(a, b) {
    const left = riskKey(a);
    const right = riskKey(b);
    for (let i = 0; i < left.length; i += 1) {
      if (left[i] !== right[i]) return right[i] - left[i];
    }
    return a.bed < b.bed ? -1 : 1;
  }

  function shown(bed) {
    const filter = filterSelect.value;
    if (filter === "alerts") return (bed.alerts || []).length > 0;
    if (filter === "medium") {
      const band = live.bandOf(bed);
      return band === "medium" || band === "high" || band === "unknown";
    }
    return true;
  }

  function renderBed(bed) {
    const tile = live.el("section", "bed");
    tile.id = "bed-" + bed.bed;
    tile.dataset.sequence = bed.sequence;
    tile.dataset.band = live.bandOf(bed);
    tile.dataset.alerts = (bed.alerts || []).length;
    if (live.isSignalLost(bed)) tile.classList.add("signal-lost");

    const head = live.el("header");
    const title = live.el("h2");
    const link = live.el("a", "", bed.label);
    link.href = "/wards/" + config.wardCode + "/beds/" + bed.bed + "/";
    title.append(link);
    head.append(title, live.el("span", "patient", bed.patient || "no patient"));

    const seen = live.el("p", "last-seen", "last data " + live.formatAge(live.ageSeconds(bed.updated_at)));
    tile.append(
      head,
      live.news2Element(bed),
      live.alertsElement(bed, send),
      live.vitalsElement(bed),
      live.placementElement(bed),
      seen,
    );
    return tile;
  }

  // Changed beds are collected and their tiles redrawn once per animation
  // frame. With 100 beds at 1 Hz, redrawing the whole grid for every frame
  // would keep the browser busy.
  const dirty = new Set();
  let drawScheduled = false;

  function markDirty(code) {
    dirty.add(code);
    if (!drawScheduled) {
      drawScheduled = true;
      requestAnimationFrame(drawDirty);
    }
  }

  function markAllDirty() {
    for (const code of beds.keys()) markDirty(code);
  }

  function drawDirty() {
    drawScheduled = false;
    const focused = document.activeElement;
    for (const code of dirty) {
      const bed = beds.get(code);
      const current = document.getElementById("bed-" + code);
      if (!bed) continue;
      // A tile whose control has focus is kept, so a nurse's choice in it
      // is not lost, unless the bed changed meanwhile.
      const keep = current && current.contains(focused) &&
        Number(current.dataset.sequence) === bed.sequence;
      const tile = keep ? current : renderBed(bed);
      tile.hidden = !shown(bed);
      if (!current) grid.append(tile);
      else if (tile !== current) current.replaceWith(tile);
    }
    dirty.clear();
    arrange();
  }

  // Puts the tiles in the chosen order, moving only those out of place.
  function arrange() {
    const list = Array.from(beds.values());
    if (sortSelect.value === "risk") list.sort(compareRisk);
    else list.sort(function (a, b) { return a.bed < b.bed ? -1 : 1; });
    let expected = grid.firstElementChild;
    let visible = 0;
    for (const bed of list) {
      const tile = document.getElementById("bed-" + bed.bed);
      if (tile !== expected) grid.insertBefore(tile, expected);
      else expected = expected.nextElementSibling;
      if (!tile.hidden) visible += 1;
    }
    document.getElementById("shown-count").textContent =
      visible + " of " + list.length + " beds shown";
  }

  function applySnapshot(list) {
    beds.clear();
    grid.replaceChildren();
    for (const bed of list) beds.set(bed.bed, bed);
    markAllDirty();
  }

  // Returns whether a frame with ``sequence`` for ``code`` should be applied.
  function inSequence(code, sequence) {
    const known = beds.get(code);
    if (!known) return true;
    if (sequence <= known.sequence) return false;
    if (sequence > known.sequence + 1) send({ type: "resync" });
    return true;
  }

  function applyBed(bed) {
    if (!inSequence(bed.bed, bed.sequence)) return;
    beds.set(bed.bed, bed);
    markDirty(bed.bed);
  }

  function applyAlert(frame) {
    const bed = beds.get(frame.bed);
    if (!bed || !inSequence(frame.bed, frame.sequence)) return;
    bed.sequence = frame.sequence;
    live.mergeAlert(bed, frame.alert);
    markDirty(frame.bed);
  }

  sortSelect.addEventListener("change", markAllDirty);
  filterSelect.addEventListener("change", markAllDirty);
  applySnapshot(JSON.parse(document.getElementById("initial-beds").textContent));
  // Ages and stale marks depend on the clock, so tiles are redrawn each second.
  setInterval(markAllDirty, 1000);
  socket = live.connect("/ws/wards/" + config.wardCode + "/", {
    "ward.snapshot": function (frame) {
      applySnapshot(frame.beds);
      live.showMissedAlerts(frame);
    },
    "bed.updated": function (frame) { applyBed(frame.bed); },
    "alert.updated": applyAlert,
    error: live.showError,
  });
})();
