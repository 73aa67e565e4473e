// Run › instance: the BPMN diagram of the instance's version in the bpmn-js NavigatedViewer, with
// markers on the element ids the server computed (active tokens, completed nodes, taken sequence
// flows, incidents) and a token count overlay on active nodes. Texts come from data-msg-*.
(function () {
  "use strict";

  function text(el, name, params) {
    var value = el.getAttribute("data-msg-" + name) || "";
    Object.keys(params || {}).forEach(function (key) {
      value = value.split("%(" + key + ")s").join(String(params[key]));
    });
    return value;
  }

  function paint(viewer, host, marks) {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    var overlays = viewer.get("overlays");
    function mark(id, cls) {
      if (registry.get(id)) canvas.addMarker(id, cls);
    }
    (marks.completed || []).forEach(function (id) { mark(id, "is-completed"); });
    (marks.flows || []).forEach(function (id) { mark(id, "is-taken"); });
    (marks.incidents || []).forEach(function (id) { mark(id, "is-incident"); });
    var counts = {};
    (marks.active || []).forEach(function (id) { counts[id] = (counts[id] || 0) + 1; });
    Object.keys(counts).forEach(function (id) {
      if (!registry.get(id)) return;
      canvas.addMarker(id, "is-active");
      var badge = document.createElement("span");
      badge.className = "token-count";
      badge.textContent = String(counts[id]);
      badge.title = text(host, "tokens", { count: counts[id] });
      overlays.add(id, "tokens", { position: { bottom: 8, right: 8 }, html: badge });
    });
    host.setAttribute("data-painted", "true");
  }

  function setup(host) {
    var status = document.getElementById("instance-diagram-status");
    var marks = JSON.parse(host.getAttribute("data-marks") || "{}");
    var viewer = new window.BpmnJS({ container: host });  // the NavigatedViewer bundle
    fetch(host.getAttribute("data-xml-url"), { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status + " " + response.statusText);
        return response.text();
      })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        viewer.get("canvas").zoom("fit-viewport");
        paint(viewer, host, marks);
      })
      .catch(function (error) {
        status.textContent = text(host, "load-failed") + " " + (error && error.message ? error.message : error);
        status.classList.add("is-error");
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var host = document.getElementById("instance-diagram");
    if (host && window.BpmnJS) setup(host);
  });
})();
