// Discover › event log › heat map: a deployed BPMN model in the bpmn-js viewer, each flow node
// coloured by the waiting time before the activity it maps to (data from
// /api/v1/logs/{id}/heatmap), with a badge per node whose tooltip lists waiting, service time,
// executions and SLA breaches, a legend and a table of the same numbers. Texts come from the
// panel's data-msg-* attributes (translated by the server), so this file holds no language.
(function () {
  "use strict";

  var LEVELS = 5;

  function text(panel, name, params) {
    var value = panel.getAttribute("data-msg-" + name) || "";
    Object.keys(params || {}).forEach(function (key) {
      value = value.split("%(" + key + ")s").join(String(params[key]));
    });
    return value;
  }

  function duration(panel, seconds) {
    if (seconds === null || seconds === undefined) return "–";
    if (seconds < 60) return text(panel, "seconds", { n: Math.round(seconds) });
    if (seconds < 3600) return text(panel, "minutes", { n: (seconds / 60).toFixed(seconds < 600 ? 1 : 0) });
    if (seconds < 172800) return text(panel, "hours", { n: (seconds / 3600).toFixed(1) });
    return text(panel, "days", { n: (seconds / 86400).toFixed(1) });
  }

  function facts(panel, node) {
    var rows = [
      [text(panel, "activity"), node.activity],
      [text(panel, "count"), String(node.instances)],
      [text(panel, "waiting-mean"), duration(panel, node.waiting_mean_s)],
      [text(panel, "waiting-p90"), duration(panel, node.waiting_p90_s)],
      [text(panel, "service"), duration(panel, node.service_mean_s)]
    ];
    if (node.sla) {
      rows.push([text(panel, "sla"), node.sla.duration + " (" + duration(panel, node.sla.sla_s) + ")"]);
      rows.push([text(panel, "breaches"), node.sla.breaches + " (" + Math.round(100 * node.sla.breach_share) + "%)"]);
    }
    return rows;
  }

  function badge(panel, node) {
    var box = document.createElement("div");
    box.className = "heat-badge heat-badge-" + node.level + (node.sla && node.sla.breaches ? " heat-breach" : "");
    box.tabIndex = 0;
    box.setAttribute("data-node", node.id);
    var value = document.createElement("span");
    value.className = "heat-value";
    value.textContent = duration(panel, node.value_s);
    box.appendChild(value);
    var tip = document.createElement("dl");
    tip.className = "heat-tip";
    facts(panel, node).forEach(function (pair) {
      var dt = document.createElement("dt");
      dt.textContent = pair[0];
      var dd = document.createElement("dd");
      dd.textContent = pair[1];
      tip.appendChild(dt);
      tip.appendChild(dd);
    });
    box.appendChild(tip);
    box.title = facts(panel, node).map(function (pair) { return pair[0] + ": " + pair[1]; }).join("\n");
    return box;
  }

  function legend(panel, data) {
    var box = document.getElementById("heat-legend");
    box.textContent = "";
    data.scale.forEach(function (step) {
      var item = document.createElement("span");
      item.className = "heat-key heat-key-" + step.level;
      item.textContent = duration(panel, step.from_s) + " – " + duration(panel, step.to_s);
      box.appendChild(item);
    });
    var none = document.createElement("span");
    none.className = "heat-key heat-key-none";
    none.textContent = text(panel, "none");
    box.appendChild(none);
  }

  function table(panel, data) {
    var tableEl = document.getElementById("heat-table");
    tableEl.textContent = "";
    var head = tableEl.createTHead().insertRow();
    ["node", "activity", "count", "waiting-mean", "waiting-p90", "service", "sla", "breaches"].forEach(function (key) {
      var th = document.createElement("th");
      th.scope = "col";
      th.textContent = text(panel, key);
      head.appendChild(th);
    });
    var body = tableEl.createTBody();
    data.nodes.filter(function (n) { return n.activity; }).forEach(function (n) {
      var cells = [n.name || n.id, n.activity, String(n.instances), duration(panel, n.waiting_mean_s),
        duration(panel, n.waiting_p90_s), duration(panel, n.service_mean_s),
        n.sla ? n.sla.duration : "–", n.sla ? String(n.sla.breaches) : "–"];
      var row = body.insertRow();
      cells.forEach(function (value) { row.insertCell().textContent = value; });
    });
  }

  function isFlowNode(element) {
    var bo = element.businessObject;
    return element.type !== "label" && bo && typeof bo.$instanceOf === "function" && bo.$instanceOf("bpmn:FlowNode");
  }

  function paint(panel, viewer, data) {
    var canvas = viewer.get("canvas");
    var overlays = viewer.get("overlays");
    var registry = viewer.get("elementRegistry");
    var byId = {};
    data.nodes.forEach(function (n) { byId[n.id] = n; });
    overlays.remove({ type: "heat" });
    var painted = 0;
    registry.filter(isFlowNode).forEach(function (element) {
      for (var i = 1; i <= LEVELS; i++) canvas.removeMarker(element, "heat-" + i);
      canvas.removeMarker(element, "heat-none");
      var node = byId[element.id];
      if (!node || !node.activity) {
        canvas.addMarker(element, "heat-none");
        return;
      }
      canvas.addMarker(element, "heat-" + node.level);
      overlays.add(element.id, "heat", { position: { top: -12, right: 24 }, html: badge(panel, node) });
      painted += 1;
    });
    legend(panel, data);
    table(panel, data);
    var status = document.getElementById("heat-status");
    var message = text(panel, "matched", { matched: data.matched, nodes: data.nodes.length });
    if (data.unmatched_activities.length) {
      message += " " + text(panel, "unmatched", { names: data.unmatched_activities.join(", ") });
    }
    status.textContent = message;
    status.classList.remove("is-error");
    panel.setAttribute("data-painted", String(painted));
    panel.setAttribute("data-ready", "true");
  }

  function setup(panel) {
    var select = document.getElementById("heat-model");
    var status = document.getElementById("heat-status");
    var viewer = new window.BpmnJS.NavigatedViewer({ container: "#heat-canvas" });
    var shown = null;
    var request = 0;

    function metric() {
      var checked = panel.querySelector('input[name="heat-metric"]:checked');
      return checked ? checked.value : "mean";
    }

    function load() {
      var mine = ++request;
      panel.setAttribute("data-ready", "false");
      status.textContent = text(panel, "loading");
      var url = panel.getAttribute("data-url") + "?model=" + encodeURIComponent(select.value) + "&metric=" + metric();
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          return response.json().then(function (body) {
            if (!response.ok) throw new Error((body && body.detail) || response.status + " " + response.statusText);
            return body;
          });
        })
        .then(function (data) {
          if (mine !== request) return null;
          var key = data.model.key + "@" + data.model.version;
          var ready = key === shown ? Promise.resolve() : viewer.importXML(data.xml).then(function () {
            shown = key;
            viewer.get("canvas").zoom("fit-viewport");
          });
          return ready.then(function () { if (mine === request) paint(panel, viewer, data); }, function (error) {
            // A model without a diagram (no BPMN DI) cannot be drawn: the numbers still can.
            shown = null;
            legend(panel, data);
            table(panel, data);
            var details = panel.querySelector(".heat-details");
            if (details) details.open = true;
            throw error;
          });
        })
        .catch(function (error) {
          status.textContent = text(panel, "failed") + " " + error.message;
          status.classList.add("is-error");
        });
    }

    select.addEventListener("change", load);
    panel.querySelectorAll('input[name="heat-metric"]').forEach(function (input) {
      input.addEventListener("change", load);
    });
    load();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var panel = document.getElementById("heat-map-panel");
    if (panel && window.BpmnJS && window.BpmnJS.NavigatedViewer) setup(panel);
  });
})();
