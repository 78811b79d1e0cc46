// Live ward overview: renders one tile per bed and keeps it current over a
// WebSocket. Every bed frame carries a per-bed sequence number; a gap means a
// frame was lost, so the page asks the server for a fresh snapshot.
(function () {
  "use strict";

  const config = window.MEDTWIN;
  const beds = new Map();
  const grid = document.getElementById("beds");
  const status = document.getElementById("connection");
  const VITALS = [
    ["heart_rate", "HR", "/min"],
    ["spo2", "SpO2", "%"],
    ["resp_rate", "RR", "/min"],
    ["systolic_bp", "SBP", "mmHg"],
    ["temperature", "Temp", "°C"],
  ];
  const BAND_TEXT = {
    low: "Low",
    "low-medium": "Low-medium",
    medium: "Medium",
    high: "High",
  };
  let socket = null;
  let retry = 0;

  function setStatus(state, text) {
    status.dataset.state = state;
    status.textContent = text;
  }

  function ageSeconds(iso) {
    return iso ? Math.max(0, (Date.now() - Date.parse(iso)) / 1000) : Infinity;
  }

  function formatAge(seconds) {
    if (!isFinite(seconds)) return "never";
    if (seconds < 90) return Math.round(seconds) + " s ago";
    if (seconds < 5400) return Math.round(seconds / 60) + " min ago";
    return Math.round(seconds / 3600) + " h ago";
  }

  function vitalCell(bed, key, label, unit) {
    const entry = (bed.vitals || {})[key];
    const cell = document.createElement("div");
    cell.className = "vital";
    cell.dataset.parameter = key;
    const name = document.createElement("span");
    name.className = "vital-name";
    name.textContent = label;
    const value = document.createElement("span");
    value.className = "vital-value";
    const age = document.createElement("span");
    age.className = "vital-age";
    if (!entry) {
      value.textContent = "--";
      age.textContent = "no data";
    } else {
      const seconds = ageSeconds(entry.at);
      const stale = seconds > config.signalLostSeconds;
      const rounded = key === "temperature" ? entry.value.toFixed(1) : Math.round(entry.value);
      value.textContent = stale ? "--" : rounded + " " + unit;
      age.textContent = formatAge(seconds) + (stale ? " (stale)" : "");
      if (entry.flagged) {
        cell.classList.add("flagged");
        value.title = "Likely artefact: " + entry.flag_reason;
        value.textContent += " ⚠";
      }
      if (stale) cell.classList.add("stale");
    }
    cell.append(name, value, age);
    return cell;
  }

  function renderBed(bed) {
    const tile = document.createElement("section");
    tile.className = "bed";
    tile.id = "bed-" + bed.bed;
    tile.dataset.sequence = bed.sequence;
    const lastSeen = ageSeconds(bed.updated_at);
    const signalLost = lastSeen > config.signalLostSeconds;
    const news2 = bed.news2 || {};
    const band = signalLost ? "unknown" : news2.band || "unknown";
    tile.dataset.band = band;

    const head = document.createElement("header");
    const title = document.createElement("h2");
    title.textContent = bed.label;
    const patient = document.createElement("span");
    patient.className = "patient";
    patient.textContent = bed.patient || "no patient";
    head.append(title, patient);

    const score = document.createElement("div");
    score.className = "news2";
    if (signalLost) {
      score.textContent = "SIGNAL LOST";
      tile.classList.add("signal-lost");
    } else if (news2.aggregate === undefined) {
      score.textContent = "NEWS2 --";
    } else {
      const shape = { low: "●", "low-medium": "▲", medium: "◆", high: "■" }[band] || "";
      // A partial score is a lower bound, so it is shown as "at least".
      score.textContent = news2.partial
        ? "NEWS2 ≥ " + news2.aggregate + " " + shape + " at least " +
          (BAND_TEXT[band] || band) + " (partial)"
        : "NEWS2 " + news2.aggregate + " " + shape + " " + (BAND_TEXT[band] || band);
      if (news2.partial) {
        score.title = "Not scored: " + news2.missing.join(", ") +
          ". A partial score is a lower bound.";
      }
    }
    const vitals = document.createElement("div");
    vitals.className = "vitals";
    if (!signalLost) {
      for (const [key, label, unit] of VITALS) vitals.append(vitalCell(bed, key, label, unit));
    }
    const seen = document.createElement("p");
    seen.className = "last-seen";
    seen.textContent = "last data " + formatAge(lastSeen);
    tile.append(head, score, vitals, seen);
    return tile;
  }

  function draw(code) {
    const bed = beds.get(code);
    const next = renderBed(bed);
    const current = document.getElementById("bed-" + code);
    if (current) current.replaceWith(next);
    else grid.append(next);
  }

  function applySnapshot(list) {
    beds.clear();
    grid.replaceChildren();
    for (const bed of list) {
      beds.set(bed.bed, bed);
      draw(bed.bed);
    }
  }

  function applyUpdate(bed) {
    const known = beds.get(bed.bed);
    if (known && bed.sequence <= known.sequence) return;
    if (known && bed.sequence > known.sequence + 1) {
      socket.send(JSON.stringify({ type: "resync" }));
    }
    beds.set(bed.bed, bed);
    draw(bed.bed);
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/ws/wards/" + config.wardCode + "/");
    socket.onopen = function () {
      retry = 0;
      setStatus("live", "live");
    };
    socket.onmessage = function (event) {
      const message = JSON.parse(event.data);
      if (message.type === "ward.snapshot") applySnapshot(message.beds);
      else if (message.type === "bed.updated") applyUpdate(message.bed);
    };
    socket.onclose = function (event) {
      if (event.code === 4401 || event.code === 4403 || event.code === 4404) {
        setStatus("closed", "not allowed (" + event.code + "): log in again");
        return;
      }
      // Exponential back-off with full jitter, so a server restart is not
      // met by every open page reconnecting at the same instant.
      const delay = Math.random() * Math.min(30000, 500 * 2 ** retry);
      retry += 1;
      setStatus("disconnected", "disconnected: data may be stale, reconnecting");
      setTimeout(connect, delay);
    };
  }

  applySnapshot(JSON.parse(document.getElementById("initial-beds").textContent));
  setInterval(function () {
    for (const code of beds.keys()) draw(code);
  }, 1000);
  connect();
})();
