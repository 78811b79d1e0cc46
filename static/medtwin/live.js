// Shared by the ward overview and the bed panel: the live socket with
// reconnection, per-bed sequence checks, and the rendering of vitals, NEWS2
// bands and alerts. Band and priority are always given as text and a shape,
// never by colour alone.
(function () {
  "use strict";

  const config = window.MEDTWIN;

  const BAND = {
    low: { text: "Low", shape: "●", rank: 0 },
    "low-medium": { text: "Low-medium", shape: "▲", rank: 1 },
    medium: { text: "Medium", shape: "◆", rank: 2 },
    high: { text: "High", shape: "■", rank: 3 },
  };
  // IEC 60601-1-8 marks alarm priority with one, two or three "!" on the
  // display, so the marks carry the priority without colour.
  const PRIORITY = {
    high: { text: "HIGH", marks: "!!!", rank: 3 },
    medium: { text: "MEDIUM", marks: "!!", rank: 2 },
    low: { text: "LOW", marks: "!", rank: 1 },
  };
  const VITALS = [
    ["heart_rate", "HR", "/min"],
    ["spo2", "SpO2", "%"],
    ["resp_rate", "RR", "/min"],
    ["blood_pressure", "BP", "mmHg"],
    ["temperature", "Temp", "°C"],
  ];

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
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

  const clockFormat = new Intl.DateTimeFormat("en-GB", {
    timeZone: config.timeZone,
    year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
    hourCycle: "h23",
  });

  // Wall-clock time in the hospital's zone as "YYYY-MM-DDTHH:MM:SS", the
  // form the history endpoint uses for chart axes.
  function localTime(iso) {
    const parts = {};
    for (const part of clockFormat.formatToParts(new Date(iso))) parts[part.type] = part.value;
    return parts.year + "-" + parts.month + "-" + parts.day + "T" +
      parts.hour + ":" + parts.minute + ":" + parts.second;
  }

  function formatClock(iso) {
    return iso ? localTime(iso).replace("T", " ") : "";
  }

  function isSignalLost(bed) {
    return ageSeconds(bed.updated_at) > config.signalLostSeconds;
  }

  function bandOf(bed) {
    if (isSignalLost(bed)) return "unknown";
    return (bed.news2 || {}).band || "unknown";
  }

  function news2Text(bed) {
    if (isSignalLost(bed)) return "SIGNAL LOST";
    const news2 = bed.news2 || {};
    if (news2.aggregate === undefined) return "NEWS2 --";
    const band = BAND[news2.band] || { text: news2.band, shape: "" };
    // A partial score is a lower bound, so it is shown as "at least".
    if (news2.partial) {
      return "NEWS2 ≥ " + news2.aggregate + " " + band.shape + " at least " +
        band.text + " (partial)";
    }
    return "NEWS2 " + news2.aggregate + " " + band.shape + " " + band.text;
  }

  function news2Element(bed) {
    const score = el("div", "news2", news2Text(bed));
    const news2 = bed.news2 || {};
    if (!isSignalLost(bed) && news2.partial) {
      score.title = "Not scored: " + (news2.missing || []).join(", ") +
        ". A partial score is a lower bound.";
    }
    return score;
  }

  function vitalEntry(bed, key) {
    const vitals = bed.vitals || {};
    if (key !== "blood_pressure") return vitals[key] && [vitals[key]];
    if (!vitals.systolic_bp && !vitals.diastolic_bp) return undefined;
    return [vitals.systolic_bp, vitals.diastolic_bp];
  }

  function formatValue(key, entries) {
    if (key === "blood_pressure") {
      return entries.map(function (entry) {
        return entry ? Math.round(entry.value) : "--";
      }).join("/");
    }
    const value = entries[0].value;
    return key === "temperature" ? value.toFixed(1) : String(Math.round(value));
  }

  function vitalCell(bed, key, label, unit) {
    const entries = vitalEntry(bed, key);
    const cell = el("div", "vital");
    cell.dataset.parameter = key;
    const value = el("span", "vital-value");
    const age = el("span", "vital-age");
    if (!entries) {
      value.textContent = "--";
      age.textContent = "no data";
    } else {
      const present = entries.filter(Boolean);
      // A blood pressure is as old as the older of its two readings.
      const seconds = Math.max.apply(null, present.map(function (entry) {
        return ageSeconds(entry.at);
      }));
      const stale = seconds > config.signalLostSeconds;
      value.textContent = stale ? "--" : formatValue(key, entries) + " " + unit;
      age.textContent = formatAge(seconds) + (stale ? " (stale)" : "");
      const flagged = present.filter(function (entry) { return entry.flagged; });
      if (flagged.length) {
        cell.classList.add("flagged");
        value.title = "Likely artefact: " + flagged.map(function (entry) {
          return entry.flag_reason;
        }).join("; ");
        value.textContent += " ⚠";
      }
      if (stale) cell.classList.add("stale");
    }
    cell.append(el("span", "vital-name", label), value, age);
    return cell;
  }

  function vitalsElement(bed) {
    const vitals = el("div", "vitals");
    if (!isSignalLost(bed)) {
      for (const [key, label, unit] of VITALS) vitals.append(vitalCell(bed, key, label, unit));
    }
    return vitals;
  }

  function placementElement(bed) {
    const line = el("p", "placement");
    const placement = bed.placement;
    if (!placement) {
      line.textContent = "Tasks: not planned yet";
      return line;
    }
    const counts = {};
    for (const task of placement.tasks) counts[task.tier] = (counts[task.tier] || 0) + 1;
    line.textContent = "Tasks: " + ["edge", "fog", "cloud"].filter(function (tier) {
      return counts[tier];
    }).map(function (tier) { return tier + " ×" + counts[tier]; }).join(", ");
    line.title = placement.tasks.map(function (task) {
      return task.task + " on " + task.node + " (" + task.tier + ")";
    }).join("\n") + "\nplanned by " + placement.solver + " at " + formatClock(placement.planned_at);
    line.dataset.tiers = Object.keys(counts).sort().join(" ");
    return line;
  }

  function priorityLabel(priority) {
    const spec = PRIORITY[priority] || { text: priority, marks: "" };
    return spec.marks + " " + spec.text;
  }

  function alertStateText(alert) {
    let text = alert.state;
    if (alert.acknowledged_by && alert.state === "acknowledged") {
      text += " by " + alert.acknowledged_by + " at " + formatClock(alert.acknowledged_at);
    }
    if (alert.silenced && alert.silenced_until) {
      text += ", silenced until " + formatClock(alert.silenced_until).slice(11);
    }
    return text;
  }

  function actionButton(text, onClick) {
    const button = el("button", "alert-action", text);
    button.type = "button";
    button.addEventListener("click", onClick);
    return button;
  }

  // One active alert with its actions; ``send`` delivers a client message.
  function alertElement(alert, send) {
    const item = el("li", "alert");
    item.id = "alert-" + alert.id;
    item.dataset.priority = alert.priority;
    item.dataset.state = alert.state;
    const head = el("span", "alert-priority", priorityLabel(alert.priority));
    const message = el("span", "alert-message", alert.message);
    const state = el("span", "alert-state", alertStateText(alert));
    item.append(head, message, state);
    if (alert.state === "resolved") return item;

    const actions = el("span", "alert-actions");
    if (alert.state !== "acknowledged") {
      actions.append(actionButton("Acknowledge", function () {
        send({ type: "alert.acknowledge", alert: alert.id });
      }));
    }
    if (alert.state !== "escalated") {
      actions.append(actionButton("Escalate", function () {
        send({ type: "alert.escalate", alert: alert.id });
      }));
    }
    actions.append.apply(actions, silenceControls(alert, send));
    item.append(actions);
    return item;
  }

  // A minutes choice capped by the priority's longest silence, and its button.
  function silenceControls(alert, send) {
    const maximum = (config.maxSilenceMinutes || {})[alert.priority] || 1;
    const minutes = el("select", "silence-minutes");
    minutes.setAttribute("aria-label", "silence minutes");
    for (let value = 1; value <= maximum; value += 1) {
      const option = el("option", "", value + " min");
      option.value = String(value);
      minutes.append(option);
    }
    const button = actionButton("Silence", function () {
      send({ type: "alert.silence", alert: alert.id, minutes: Number(minutes.value) });
    });
    return [minutes, button];
  }

  function alertsElement(bed, send) {
    const list = el("ul", "alerts");
    for (const alert of bed.alerts || []) list.append(alertElement(alert, send));
    return list;
  }

  // Replace, add or drop ``alert`` in ``bed.alerts``; resolved alerts leave.
  function mergeAlert(bed, alert) {
    const others = (bed.alerts || []).filter(function (known) { return known.id !== alert.id; });
    if (alert.state !== "resolved") others.push(alert);
    others.sort(function (a, b) {
      return (PRIORITY[b.priority] || {}).rank - (PRIORITY[a.priority] || {}).rank ||
        Date.parse(a.raised_at) - Date.parse(b.raised_at);
    });
    bed.alerts = others;
  }

  // The live socket: ``handlers`` maps frame types to functions. After a
  // drop it reconnects with back-off and passes the time of the last frame
  // it received, so the snapshot lists every alert changed meanwhile.
  function connect(path, handlers) {
    const status = document.getElementById("connection");
    let socket = null;
    let retry = 0;
    let lastSentAt = null;

    function setStatus(state, text) {
      status.dataset.state = state;
      status.textContent = text;
    }

    function open() {
      const scheme = location.protocol === "https:" ? "wss://" : "ws://";
      const query = lastSentAt ? "?since=" + encodeURIComponent(lastSentAt) : "";
      socket = new WebSocket(scheme + location.host + path + query);
      socket.onopen = function () {
        retry = 0;
        setStatus("connecting", "connected, loading current data");
      };
      socket.onmessage = function (event) {
        const message = JSON.parse(event.data);
        if (message.sent_at) lastSentAt = message.sent_at;
        // "live" only once the snapshot is in: until then the page still
        // shows what it had before the connection dropped.
        if (/\.snapshot$/.test(message.type)) setStatus("live", "live");
        const handler = handlers[message.type];
        if (handler) handler(message);
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
        setTimeout(open, delay);
      };
    }

    open();
    return {
      send: function (message) {
        if (socket && socket.readyState === WebSocket.OPEN) {
          socket.send(JSON.stringify(message));
          return true;
        }
        showMessage("Not sent: the page is disconnected. Try again when it shows live.");
        return false;
      },
    };
  }

  function showMessage(text) {
    const box = document.getElementById("messages");
    if (!box) return;
    const line = el("p", "message", text);
    box.prepend(line);
    setTimeout(function () { line.remove(); }, 15000);
  }

  function showError(frame) {
    showMessage("Rejected: " + frame.message + " (" + frame.field + " = " +
      JSON.stringify(frame.value) + ")");
  }

  // Alerts raised or changed while the page was away, listed until dismissed.
  function showMissedAlerts(frame) {
    const box = document.getElementById("missed");
    if (!box || !frame.alerts_since || !frame.alerts_since.length) return;
    box.replaceChildren();
    box.append(el("h2", "", "While this page was disconnected"));
    const list = el("ul", "alerts");
    for (const alert of frame.alerts_since) {
      const item = alertElement(alert, function () {});
      item.id = "missed-alert-" + alert.id;
      item.querySelector(".alert-actions")?.remove();
      item.prepend(el("span", "alert-bed", alert.bed + ": "));
      list.append(item);
    }
    const dismiss = actionButton("Dismiss", function () { box.replaceChildren(); box.hidden = true; });
    box.append(list, dismiss);
    box.hidden = false;
  }

  window.MedTwinLive = {
    BAND, PRIORITY, el, ageSeconds, formatAge, formatClock, localTime,
    isSignalLost, bandOf, news2Element, vitalsElement, placementElement,
    alertsElement, alertElement, mergeAlert, connect, showError, showMessage,
    showMissedAlerts, priorityLabel, alertStateText,
  };
})();
