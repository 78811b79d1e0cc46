// Bedside twin panel: the bed's live state and alerts over one WebSocket,
// and Plotly trend charts from the history endpoint, extended live.
(function () {
  "use strict";

  const config = window.MEDTWIN;
  const live = window.MedTwinLive;
  const CHARTS = [
    { id: "heart_rate", title: "Heart rate (/min)", parameters: ["heart_rate", "pulse_rate"] },
    { id: "spo2", title: "SpO2 (%)", parameters: ["spo2"] },
    { id: "resp_rate", title: "Respiratory rate (/min)", parameters: ["resp_rate"] },
    { id: "blood_pressure", title: "Blood pressure (mmHg)", parameters: ["systolic_bp", "diastolic_bp"] },
    { id: "temperature", title: "Temperature (°C)", parameters: ["temperature"] },
  ];
  const NAMES = {
    heart_rate: "heart rate", pulse_rate: "pulse (pleth)", spo2: "SpO2",
    resp_rate: "respiratory rate", systolic_bp: "systolic", diastolic_bp: "diastolic",
    temperature: "temperature", air_or_oxygen: "air or oxygen", pulse: "pulse",
    consciousness: "consciousness",
  };
  // Each line has its own dash pattern, so two lines on one chart can be
  // distinguished without colour.
  const DASHES = ["solid", "dot"];
  const REFRESH_MS = 60000;
  const historyUrl = "/wards/" + config.wardCode + "/beds/" + config.bedCode + "/history";

  let bed = JSON.parse(document.getElementById("initial-bed").textContent);
  let windowName = config.windows[0];
  let socket = null;
  // Per chart: which trace each parameter's line is and the last time drawn.
  let traces = {};
  let lastDrawn = {};

  function send(message) {
    if (socket) socket.send(message);
  }

  function renderSummary() {
    const summary = document.getElementById("summary");
    summary.dataset.band = live.bandOf(bed);
    summary.dataset.sequence = bed.sequence;
    summary.classList.toggle("signal-lost", live.isSignalLost(bed));
    summary.replaceChildren(
      live.news2Element(bed),
      live.vitalsElement(bed),
      live.placementElement(bed),
      live.el("p", "last-seen", "last data " + live.formatAge(live.ageSeconds(bed.updated_at))),
    );
    const alerts = document.getElementById("active-alerts");
    if (!alerts.contains(document.activeElement)) {
      const list = live.alertsElement(bed, send);
      if (!list.children.length) list.append(live.el("li", "none", "No open alerts"));
      alerts.replaceChildren(list);
    }
  }

  function renderHistory() {
    const body = document.getElementById("alert-history");
    body.replaceChildren();
    for (const alert of bed.alert_history || []) {
      const row = live.el("tr");
      row.id = "history-" + alert.id;
      row.dataset.state = alert.state;
      const trail = (alert.actions || []).map(function (action) {
        return live.formatClock(action.at).slice(11) + " " + action.action +
          " by " + (action.user || "twin") + (action.note ? ": " + action.note : "");
      }).join("; ");
      const cells = [
        live.formatClock(alert.raised_at),
        live.priorityLabel(alert.priority),
        alert.message,
        alert.state,
        alert.acknowledged_by ? alert.acknowledged_by + " at " + live.formatClock(alert.acknowledged_at) : "",
        trail,
      ];
      for (const text of cells) row.append(live.el("td", "", text));
      body.append(row);
    }
    if (!body.children.length) {
      const row = live.el("tr");
      const cell = live.el("td", "", "No alerts in the last 24 hours");
      cell.colSpan = 6;
      row.append(cell);
      body.append(row);
    }
  }

  function forecastTraces(parameter, lastTime) {
    const forecast = (bed.forecast || {})[parameter];
    if (!forecast || !lastTime) return [];
    // The forecast covers the time from its fit to its horizon, "at".
    const start = live.localTime(forecast.fitted_at);
    const end = live.localTime(forecast.at);
    const name = NAMES[parameter] + " forecast";
    return [
      { x: [start, end], y: [forecast.low, forecast.low], mode: "lines", line: { width: 0 },
        showlegend: false, hoverinfo: "skip", name: name + " low" },
      { x: [start, end], y: [forecast.high, forecast.high], mode: "lines", line: { width: 0 },
        fill: "tonexty", fillcolor: "rgba(73, 80, 87, 0.2)", name: name + " 90 % interval" },
      { x: [start, end], y: [forecast.value, forecast.value], mode: "lines",
        line: { dash: "dash", color: "#495057" }, name: name },
    ];
  }

  function layout(title, data) {
    return {
      title: { text: title, font: { size: 14 } },
      height: 220,
      margin: { l: 50, r: 10, t: 30, b: 30 },
      xaxis: { type: "date", range: [data.start, data.end], title: { text: data.time_zone } },
      legend: { orientation: "h", y: -0.25 },
      shapes: [{
        type: "line", xref: "x", yref: "paper", x0: data.end, x1: data.end, y0: 0, y1: 1,
        line: { color: "#1d232b", width: 1, dash: "dot" },
      }],
    };
  }

  function drawVitals(data) {
    traces = {};
    lastDrawn = {};
    for (const chart of CHARTS) {
      const plotted = [];
      traces[chart.id] = {};
      chart.parameters.forEach(function (parameter, index) {
        const series = data.vitals[parameter];
        if (!series) return;
        traces[chart.id][parameter] = plotted.length;
        lastDrawn[parameter] = series.t.filter(Boolean).pop();
        plotted.push({
          x: series.t, y: series.v, mode: "lines", name: NAMES[parameter],
          line: { dash: DASHES[index], width: 1.5 }, connectgaps: false,
        });
        if (series.flagged) {
          plotted.push({
            x: series.flagged.t, y: series.flagged.v, mode: "markers",
            marker: { symbol: "x", size: 7 }, name: NAMES[parameter] + " artefact (flagged)",
          });
        }
        plotted.push.apply(plotted, forecastTraces(parameter, lastDrawn[parameter]));
      });
      const div = document.getElementById("chart-" + chart.id);
      if (!plotted.length) {
        Plotly.purge(div);
        div.textContent = chart.title + ": no readings in this window";
        continue;
      }
      div.textContent = "";
      const chartLayout = layout(chart.title, data);
      // Widen the axis past now so a forecast ahead of now stays in view.
      for (const trace of plotted) {
        const last = trace.x[trace.x.length - 1];
        if (last && last > chartLayout.xaxis.range[1]) chartLayout.xaxis.range[1] = last;
      }
      Plotly.react(div, plotted, chartLayout, { displaylogo: false, responsive: true });
    }
  }

  function drawNews2(data) {
    const news2 = data.news2;
    const div = document.getElementById("chart-news2");
    if (!news2.t.length) {
      Plotly.purge(div);
      div.textContent = "NEWS2: no scores in this window";
      return;
    }
    div.textContent = "";
    const plotted = Object.keys(news2.scores).map(function (parameter) {
      return { x: news2.t, y: news2.scores[parameter], type: "bar", name: NAMES[parameter] || parameter };
    });
    plotted.push({
      x: news2.t, y: news2.aggregate, mode: "lines", line: { shape: "hv", color: "#1d232b", width: 2 },
      name: "NEWS2 total",
      text: news2.partial.map(function (partial) { return partial ? "partial: a lower bound" : ""; }),
    });
    const chartLayout = layout("NEWS2 and each parameter's contribution", data);
    chartLayout.barmode = "stack";
    chartLayout.height = 260;
    Plotly.react(div, plotted, chartLayout, { displaylogo: false, responsive: true });
  }

  let historyRetry = null;

  async function loadHistory() {
    const status = document.getElementById("history-status");
    const requested = windowName;
    clearTimeout(historyRetry);
    status.textContent = "loading " + requested + "…";
    let response;
    try {
      response = await fetch(historyUrl + "?window=" + encodeURIComponent(requested), {
        headers: { Accept: "application/json" },
      });
    } catch (error) {
      status.textContent = "history not loaded: the server did not answer";
      return;
    }
    if (requested !== windowName) return;
    if (response.status === 503) {
      // The server rations history so live frames stay current. A random
      // extra wait keeps the panels from retrying at the same moment.
      const seconds = (Number(response.headers.get("Retry-After")) || 2) * (1 + Math.random());
      status.textContent = "history busy on the server; retrying in " + Math.ceil(seconds) + " s";
      historyRetry = setTimeout(loadHistory, seconds * 1000);
      return;
    }
    if (response.redirected || response.status === 401 || response.status === 403) {
      status.textContent = "history not loaded (HTTP " + response.status + "): log in again";
      return;
    }
    if (!response.ok) {
      status.textContent = "history not loaded (HTTP " + response.status + "): reload the page to retry";
      return;
    }
    const data = await response.json();
    drawVitals(data);
    drawNews2(data);
    status.textContent = "last " + windowName + ", times in " + data.time_zone +
      (data.bucket_seconds > 1
        ? "; before " + data.full_resolution_from.slice(11) + " each point is the minimum or maximum of " +
          data.bucket_seconds + " s"
        : "");
    document.getElementById("charts").dataset.window = windowName;
  }

  // Appends readings newer than the last point drawn, so the charts move
  // with the monitor between history loads.
  function extendCharts() {
    for (const chart of CHARTS) {
      const div = document.getElementById("chart-" + chart.id);
      if (!div.data) continue;
      for (const parameter of chart.parameters) {
        const entry = (bed.vitals || {})[parameter];
        const index = traces[chart.id][parameter];
        if (!entry || entry.flagged || index === undefined) continue;
        const at = live.localTime(entry.at);
        if (lastDrawn[parameter] && at <= lastDrawn[parameter]) continue;
        Plotly.extendTraces(div, { x: [[at]], y: [[entry.value]] }, [index]);
        lastDrawn[parameter] = at;
      }
    }
  }

  function applyBed(next) {
    if (next.sequence <= bed.sequence) return;
    if (next.sequence > bed.sequence + 1) send({ type: "resync" });
    const history = bed.alert_history;
    const forecastChanged = JSON.stringify(next.forecast) !== JSON.stringify(bed.forecast);
    bed = next;
    if (!bed.alert_history) bed.alert_history = history;
    renderSummary();
    extendCharts();
    // A refitted forecast is drawn with a fresh history, so both line up.
    if (forecastChanged) loadHistory();
  }

  function applyAlert(frame) {
    if (frame.sequence <= bed.sequence) return;
    bed.sequence = frame.sequence;
    live.mergeAlert(bed, frame.alert);
    renderSummary();
    // The frame has no audit trail, so the history comes with a snapshot.
    send({ type: "resync" });
  }

  for (const button of document.querySelectorAll("[data-window]")) {
    button.addEventListener("click", function () {
      windowName = button.dataset.window;
      for (const other of document.querySelectorAll("[data-window]")) {
        other.setAttribute("aria-pressed", String(other === button));
      }
      loadHistory();
    });
  }

  renderSummary();
  renderHistory();
  loadHistory();
  setInterval(renderSummary, 1000);
  setInterval(loadHistory, REFRESH_MS);
  socket = live.connect("/ws/wards/" + config.wardCode + "/beds/" + config.bedCode + "/", {
    "bed.snapshot": function (frame) {
      bed = frame.bed;
      renderSummary();
      renderHistory();
      extendCharts();
      live.showMissedAlerts(frame);
    },
    "bed.updated": function (frame) { applyBed(frame.bed); },
    "alert.updated": applyAlert,
    error: live.showError,
  });
})();
