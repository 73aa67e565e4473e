// Design › decisions: dmn-js on the model page, "Save as new version" and "Test this decision".
// Everything goes through the JSON API with the session's CSRF header; texts come from data-msg-*
// attributes rendered (and translated) by the server, so this file holds no language.
(function () {
  "use strict";

  function text(el, name, params) {
    var value = el.getAttribute("data-msg-" + name) || "";
    Object.keys(params || {}).forEach(function (key) {
      value = value.split("%(" + key + ")s").join(String(params[key]));
    });
    return value;
  }

  function problemText(body, fallback) {
    if (body && typeof body === "object" && body.detail) return body.detail;
    return fallback;
  }

  function readJson(response) {
    return response.text().then(function (raw) {
      try { return raw ? JSON.parse(raw) : null; } catch (e) { return raw; }
    });
  }

  // --- the editor ------------------------------------------------------------------------------
  function setupEditor(panel) {
    var status = document.getElementById("dmn-status");
    var tabs = panel.querySelector(".dmn-tabs");
    var save = document.getElementById("dmn-save");
    var modeler = new window.DmnJS({ container: "#dmn-canvas" });

    function say(message, isError) {
      status.textContent = message;
      status.classList.toggle("is-error", !!isError);
    }

    function viewLabel(view) {
      if (view.type === "drd") return text(panel, "diagram");
      return (view.element && (view.element.name || view.element.id)) || view.id;
    }

    function renderTabs() {
      var active = modeler.getActiveView();
      tabs.textContent = "";
      modeler.getViews().forEach(function (view) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "btn btn-small btn-quiet";
        button.setAttribute("role", "tab");
        button.setAttribute("aria-selected", active && active.element === view.element ? "true" : "false");
        button.setAttribute("data-view-type", view.type);
        button.textContent = viewLabel(view);
        button.addEventListener("click", function () { modeler.open(view); });
        tabs.appendChild(button);
      });
    }

    modeler.on("views.changed", renderTabs);

    fetch(panel.getAttribute("data-xml-url"), { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status + " " + response.statusText);
        return response.text();
      })
      .then(function (xml) { return modeler.importXML(xml); })
      .then(function () {
        renderTabs();
        panel.setAttribute("data-ready", "true");
        if (save) save.disabled = false;
      })
      .catch(function (error) { say(text(panel, "load-failed") + " " + error.message, true); });

    if (save) {
      save.addEventListener("click", function () {
        save.disabled = true;
        say(text(panel, "saving"));
        modeler.saveXML({ format: true })
          .then(function (result) {
            return fetch(panel.getAttribute("data-deploy-url"), {
              method: "POST",
              credentials: "same-origin",
              headers: { "Content-Type": "application/xml", "X-CSRF-Token": panel.getAttribute("data-csrf") },
              body: result.xml,
            });
          })
          .then(function (response) {
            return readJson(response).then(function (body) {
              if (!response.ok) throw new Error(problemText(body, response.status + " " + response.statusText));
              return body;
            });
          })
          .then(function (body) {
            var same = body.key === panel.getAttribute("data-key");
            if (same && String(body.version) === panel.getAttribute("data-version")) {
              say(text(panel, "unchanged", { version: body.version }));
              save.disabled = false;
              return;
            }
            window.location.assign("/decisions/" + encodeURIComponent(body.key) + "?version=" + body.version + "&deployed=1");
          })
          .catch(function (error) {
            say(text(panel, "save-failed") + " " + error.message, true);
            save.disabled = false;
          });
      });
    }
  }

  // --- "test this decision" ----------------------------------------------------------------------
  var NUMBER_TYPES = ["number", "integer", "long", "double", "feel:number", "xsd:decimal", "xsd:integer", "xsd:double"];

  function typed(raw, type) {
    var value = raw.trim();
    var kind = (type || "").toLowerCase();
    if (NUMBER_TYPES.indexOf(kind) >= 0 && value !== "" && !isNaN(Number(value))) return Number(value);
    if ((kind === "boolean" || kind === "feel:boolean" || kind === "xsd:boolean") && (value === "true" || value === "false")) {
      return value === "true";
    }
    return raw;
  }

  function setupTest(form, panel) {
    var select = form.querySelector("select[name=decision]");
    var extra = document.getElementById("f-json-inputs");
    var box = document.getElementById("dmn-result");
    var errorBox = document.getElementById("dmn-result-error");

    function showInputsOf(id) {
      form.querySelectorAll(".dmn-inputs").forEach(function (set) {
        set.hidden = set.getAttribute("data-decision") !== id;
      });
    }

    function fill(list, items) {
      list.textContent = "";
      items.forEach(function (item) {
        var li = document.createElement("li");
        li.textContent = item;
        list.appendChild(li);
      });
    }

    function fail(message) {
      box.hidden = true;
      errorBox.textContent = message;
      errorBox.hidden = false;
    }

    select.addEventListener("change", function () { showInputsOf(select.value); });
    showInputsOf(select.value);

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var inputs = {};
      var fieldset = form.querySelector('.dmn-inputs[data-decision="' + select.value + '"]');
      if (fieldset) {
        fieldset.querySelectorAll("[data-input]").forEach(function (field) {
          if (field.value.trim() !== "") inputs[field.getAttribute("data-input")] = typed(field.value, field.getAttribute("data-type"));
        });
      }
      if (extra.value.trim() !== "") {
        var parsed;
        try { parsed = JSON.parse(extra.value); } catch (e) { parsed = null; }
        if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
          fail(text(form, "bad-json"));
          return;
        }
        Object.keys(parsed).forEach(function (key) { inputs[key] = parsed[key]; });
      }
      var body = { decision: select.value, inputs: inputs, version: Number(panel.getAttribute("data-version")) };
      fetch(panel.getAttribute("data-evaluate-url"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": panel.getAttribute("data-csrf") },
        body: JSON.stringify(body),
      })
        .then(function (response) {
          return readJson(response).then(function (data) {
            if (!response.ok) throw new Error(problemText(data, response.status + " " + response.statusText));
            return data;
          });
        })
        .then(function (data) {
          errorBox.hidden = true;
          document.getElementById("dmn-result-value").textContent = JSON.stringify(data.result, null, 2);
          var rules = [];
          Object.keys(data.matched_rules || {}).forEach(function (name) {
            rules.push(name + ": " + (data.matched_rules[name].join(", ") || "—"));
          });
          fill(document.getElementById("dmn-result-rules"), rules.length ? rules : ["—"]);
          var warnings = data.warnings || [];
          fill(document.getElementById("dmn-result-warnings"), warnings);
          document.getElementById("dmn-result-warnings-box").hidden = warnings.length === 0;
          box.hidden = false;
        })
        .catch(function (error) { fail(text(form, "failed") + " " + error.message); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var panel = document.getElementById("dmn-editor");
    if (!panel) return;
    if (window.DmnJS) setupEditor(panel);
    var form = document.getElementById("dmn-test");
    if (form) setupTest(form, panel);
  });
})();
