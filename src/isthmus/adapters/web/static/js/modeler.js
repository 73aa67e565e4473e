// Design › process models: bpmn-js on the model page; "Check", "Save draft" and "Deploy" through the
// JSON API with the session's CSRF header. Texts come from data-msg-* attributes rendered (and
// translated) by the server, so this file holds no language.
(function () {
  "use strict";

  function blankDiagram() {
    var id = "process_" + Date.now().toString(36);
    return '<?xml version="1.0" encoding="UTF-8"?>\n' +
      '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" ' +
      'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" ' +
      'xmlns:isthmus="https://isthmus.dev/schema/bpmn" id="definitions_' + id + '" targetNamespace="https://isthmus.dev/models">\n' +
      '  <bpmn:process id="' + id + '" isExecutable="true">\n    <bpmn:startEvent id="start"/>\n  </bpmn:process>\n' +
      '  <bpmndi:BPMNDiagram id="diagram"><bpmndi:BPMNPlane id="plane" bpmnElement="' + id + '">\n' +
      '    <bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="180" y="160" width="36" height="36"/></bpmndi:BPMNShape>\n' +
      '  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>\n</bpmn:definitions>\n';
  }

  function text(el, name, params) {
    var value = el.getAttribute("data-msg-" + name) || "";
    Object.keys(params || {}).forEach(function (key) {
      value = value.split("%(" + key + ")s").join(String(params[key]));
    });
    return value;
  }

  function readJson(response) {
    return response.text().then(function (raw) {
      try { return raw ? JSON.parse(raw) : null; } catch (e) { return raw; }
    });
  }

  function setup(panel) {
    var status = document.getElementById("bpmn-status");
    var list = document.getElementById("bpmn-problems");
    var buttons = ["bpmn-check", "bpmn-save", "bpmn-deploy"].map(function (id) { return document.getElementById(id); })
      .filter(function (b) { return b; });
    var modeler = new window.BpmnJS({
      container: "#bpmn-canvas",
      moddleExtensions: { isthmus: window.IsthmusPanel.descriptor }
    });
    var props = new window.IsthmusPanel.Panel(modeler, document.getElementById("bpmn-properties"));

    function say(message, isError) {
      status.textContent = message;
      status.classList.toggle("is-error", !!isError);
    }

    function busy(flag) { buttons.forEach(function (b) { b.disabled = flag; }); }

    function post(url, xml) {
      return fetch(url + "?filename=" + encodeURIComponent((panel.getAttribute("data-key") || "model") + ".bpmn"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/xml", "X-CSRF-Token": panel.getAttribute("data-csrf") },
        body: xml
      }).then(function (response) {
        return readJson(response).then(function (body) {
          if (!response.ok) throw new Error((body && body.detail) || (response.status + " " + response.statusText));
          return body;
        });
      });
    }

    function select(id) {
      var element = modeler.get("elementRegistry").get(id);
      if (!element) return;
      modeler.get("selection").select(element);
      modeler.get("canvas").scrollToElement(element);
    }

    function showProblems(problems) {
      list.textContent = "";
      problems.forEach(function (problem) {
        var li = document.createElement("li");
        if (problem.severity === "warning") li.className = "is-warning";
        var link = document.createElement("button");
        link.type = "button";
        link.textContent = problem.element_id || "-";
        link.addEventListener("click", function () { select(problem.element_id); });
        li.appendChild(link);
        li.appendChild(document.createTextNode(" · " + text(panel, "line", { line: problem.line }) + " · " + problem.message));
        list.appendChild(li);
      });
      list.hidden = problems.length === 0;
    }

    // Check the current diagram; resolves to true when it has no errors (warnings are shown too).
    function check(xml) {
      return post(panel.getAttribute("data-validate-url"), xml).then(function (body) {
        var errors = body.problems.filter(function (p) { return p.severity === "error"; });
        showProblems(body.problems);
        if (errors.length) say(text(panel, "problems", { count: errors.length }), true);
        else if (body.problems.length) say(text(panel, "warnings", { count: body.problems.length }));
        else say(text(panel, "valid"));
        return errors.length === 0;
      });
    }

    function run(kind) {
      busy(true);
      var xml;
      say(text(panel, kind === "deploy" ? "deploying" : (kind === "save" ? "saving" : "checking")));
      modeler.saveXML({ format: true })
        .then(function (result) {
          xml = result.xml;
          if (kind === "save") return post(panel.getAttribute("data-draft-url"), xml);
          return check(xml).then(function (ok) {
            return ok && kind === "deploy" ? post(panel.getAttribute("data-deploy-url"), xml) : null;
          });
        })
        .then(function (body) {
          busy(false);
          if (!body) return;
          var key = body.key;
          if (key === panel.getAttribute("data-key") && String(body.version) === panel.getAttribute("data-version")) {
            say(text(panel, "unchanged", { version: body.version }));
            return;
          }
          var flag = kind === "deploy" ? "deployed=1" : "saved=1";
          window.location.assign("/models/" + encodeURIComponent(key) + "?version=" + body.version + "&" + flag);
        })
        .catch(function (error) {
          busy(false);
          say(text(panel, "failed") + " " + error.message, true);
        });
    }

    [["bpmn-check", "check"], ["bpmn-save", "save"], ["bpmn-deploy", "deploy"]].forEach(function (pair) {
      var button = document.getElementById(pair[0]);
      if (button) button.addEventListener("click", function () { run(pair[1]); });
    });

    var url = panel.getAttribute("data-xml-url");
    var load = url
      ? fetch(url, { credentials: "same-origin" }).then(function (response) {
          if (!response.ok) throw new Error(response.status + " " + response.statusText);
          return response.text();
        })
      : Promise.resolve(blankDiagram());
    load
      .then(function (xml) { return modeler.importXML(xml); })
      .then(function () {
        modeler.get("canvas").zoom("fit-viewport", "auto");
        props.show(null);
        busy(false);
        panel.setAttribute("data-ready", "true");
      })
      .catch(function (error) { say(text(panel, "load-failed") + " " + error.message, true); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var panel = document.getElementById("bpmn-editor");
    if (panel && window.BpmnJS) setup(panel);
  });
})();
