// Design › process models: the properties panel beside bpmn-js. A plain form (rendered and translated
// by the server, so this file holds no language) shows the fields that apply to the selection and
// writes them through the modeling API as isthmus: attributes — each change one undoable command.
(function () {
  "use strict";

  var NAMES = [
    "owner", "role", "sla", "candidateGroups", "candidateUsers", "assignee", "dueDate", "followUpDate",
    "formKey", "formFields", "controlPoint", "fourEyes", "flow", "handler", "retries", "decisionRef",
    "resultVariable", "calledElement", "versionBinding", "correlationKey"
  ];

  // The moddle extension that makes bpmn-js read and write isthmus: attributes (and declare the namespace).
  var DESCRIPTOR = {
    name: "Isthmus",
    prefix: "isthmus",
    uri: "https://isthmus.dev/schema/bpmn",
    xml: { tagAlias: "lowerCase" },
    associations: [],
    types: [{
      name: "Properties",
      isAbstract: true,
      "extends": ["bpmn:BaseElement"],
      properties: NAMES.map(function (name) { return { name: name, isAttr: true, type: "String" }; })
    }]
  };

  function is(bo, type) { return !!(bo && bo.$instanceOf && bo.$instanceOf(type)); }

  function stripEquals(text) {
    var value = (text || "").trim();
    return value.charAt(0) === "=" ? value.slice(1).trim() : value;
  }

  function Panel(modeler, form) {
    this.modeler = modeler;
    this.form = form;
    this.modeling = modeler.get("modeling");
    this.registry = modeler.get("elementRegistry");
    this.moddle = modeler.get("moddle");
    this.canvas = modeler.get("canvas");
    this.element = null;
    this.bo = null;
    this.bind();
  }

  // What the panel edits for a selection: the element, and the business object (the process behind
  // the root or a pool).
  Panel.prototype.target = function (element) {
    var shown = element || this.canvas.getRootElement();
    var bo = shown.businessObject;
    if (is(bo, "bpmn:Collaboration")) {
      var pool = (bo.participants || []).filter(function (p) { return p.processRef; })[0];
      bo = pool ? pool.processRef : bo;
    } else if (is(bo, "bpmn:Participant") && bo.processRef) {
      bo = bo.processRef;
    }
    return { element: shown, bo: bo };
  };

  Panel.prototype.categories = function (bo) {
    var found = ["any"];
    var checks = {
      process: "bpmn:Process", flowNode: "bpmn:FlowNode", activity: "bpmn:Activity", userTask: "bpmn:UserTask",
      businessRuleTask: "bpmn:BusinessRuleTask", sequenceFlow: "bpmn:SequenceFlow"
    };
    Object.keys(checks).forEach(function (name) { if (is(bo, checks[name])) found.push(name); });
    if (is(bo, "bpmn:ServiceTask") || is(bo, "bpmn:SendTask")) found.push("serviceTask");
    if (is(bo, "bpmn:SequenceFlow") && (is(bo.sourceRef, "bpmn:ExclusiveGateway") || is(bo.sourceRef, "bpmn:InclusiveGateway"))) {
      found.push("conditional");
    }
    return found;
  };

  Panel.prototype.show = function (element) {
    var target = this.target(element);
    this.element = target.element;
    this.bo = target.bo;
    // While a diagram is imported or cleared the root has no business object yet: show nothing.
    var kinds = this.bo ? this.categories(this.bo) : [];
    this.form.querySelectorAll("[data-applies]").forEach(function (node) {
      var wanted = node.getAttribute("data-applies").split(" ");
      node.hidden = !wanted.some(function (w) { return kinds.indexOf(w) >= 0; });
    });
    if (!this.bo) return;
    document.getElementById("props-kind").textContent = (this.bo.$type || "").replace("bpmn:", "");
    var self = this;
    this.form.querySelectorAll("[data-kind]").forEach(function (input) { self.read(input); });
    this.readFormFields();
  };

  Panel.prototype.read = function (input) {
    var kind = input.getAttribute("data-kind");
    var prop = input.getAttribute("data-prop");
    var bo = this.bo;
    if (kind === "bool") {
      input.checked = prop === "isExecutable" ? !!bo.isExecutable : bo.get(prop) === "true";
    } else if (kind === "condition") {
      input.value = bo.conditionExpression ? stripEquals(bo.conditionExpression.body) : "";
    } else if (kind === "default") {
      input.checked = !!(bo.sourceRef && bo.sourceRef.default === bo);
    } else if (kind === "id") {
      input.value = bo.id || "";
      input.readOnly = !is(bo, "bpmn:Process");
    } else {
      input.value = bo.get(prop) || "";
    }
  };

  Panel.prototype.update = function (bo, props, element) {
    var shape = element || this.element;
    // The panel already shows what it writes: re-rendering now would rebuild the inputs under the
    // user's cursor (a change event fires while focus moves to the next field).
    this.writing = true;
    try {
      if (shape.businessObject === bo) {
        this.modeling.updateProperties(shape, props);
      } else {
        this.modeling.updateModdleProperties(shape, bo, props);
      }
    } finally {
      this.writing = false;
    }
  };

  Panel.prototype.write = function (input) {
    var kind = input.getAttribute("data-kind");
    var prop = input.getAttribute("data-prop");
    var bo = this.bo;
    var props = {};
    if (kind === "bool") {
      props[prop] = prop === "isExecutable" ? input.checked : (input.checked ? "true" : undefined);
    } else if (kind === "condition") {
      var text = stripEquals(input.value);
      props.conditionExpression = text ? this.moddle.create("bpmn:FormalExpression", { body: "=" + text }) : undefined;
    } else if (kind === "default") {
      var gateway = bo.sourceRef;
      var shape = this.registry.get(gateway.id);
      if (input.checked) {
        this.update(gateway, { "default": bo }, shape);
      } else if (gateway["default"] === bo) {
        this.update(gateway, { "default": undefined }, shape);
      }
      return;
    } else if (kind === "id") {
      if (!input.value.trim() || input.readOnly) return;
      props.id = input.value.trim();
    } else {
      props[prop] = input.value.trim() ? input.value.trim() : undefined;
    }
    this.update(bo, props);
  };

  // --- form fields: rows of id, label, type, required, kept as JSON in isthmus:formFields -------------
  Panel.prototype.readFormFields = function () {
    var box = document.getElementById("p-form-fields");
    var body = box.querySelector("tbody");
    body.textContent = "";
    var fields = [];
    try { fields = JSON.parse(this.bo.get("isthmus:formFields") || "[]"); } catch (e) { fields = []; }
    var self = this;
    (Array.isArray(fields) ? fields : []).forEach(function (field) { self.addRow(field); });
  };

  Panel.prototype.addRow = function (field) {
    var template = document.getElementById("p-form-field-row");
    var row = template.content.firstElementChild.cloneNode(true);
    row.querySelector("[data-field=id]").value = field.id || "";
    row.querySelector("[data-field=label]").value = field.label || "";
    row.querySelector("[data-field=type]").value = field.type || "string";
    row.querySelector("[data-field=options]").value = (field.options || []).join(", ");
    row.querySelector("[data-field=required]").checked = !!field.required;
    document.querySelector("#p-form-fields tbody").appendChild(row);
    return row;
  };

  Panel.prototype.writeFormFields = function () {
    var rows = document.querySelectorAll("#p-form-fields tbody tr");
    var fields = [];
    rows.forEach(function (row) {
      var id = row.querySelector("[data-field=id]").value.trim();
      if (!id) return;
      var field = { id: id, label: row.querySelector("[data-field=label]").value.trim(),
                    type: row.querySelector("[data-field=type]").value };
      var options = row.querySelector("[data-field=options]").value.split(",")
        .map(function (o) { return o.trim(); }).filter(function (o) { return o; });
      if (options.length) field.options = options;
      if (row.querySelector("[data-field=required]").checked) field.required = true;
      fields.push(field);
    });
    this.update(this.bo, { "isthmus:formFields": fields.length ? JSON.stringify(fields) : undefined });
  };

  Panel.prototype.bind = function () {
    var self = this;
    this.form.addEventListener("submit", function (event) { event.preventDefault(); });
    this.form.addEventListener("change", function (event) {
      var input = event.target;
      if (input.closest("#p-form-fields")) { self.writeFormFields(); return; }
      if (input.hasAttribute("data-kind")) self.write(input);
    });
    this.form.addEventListener("click", function (event) {
      var remove = event.target.closest("[data-remove]");
      if (remove) { remove.closest("tr").remove(); self.writeFormFields(); }
    });
    document.getElementById("p-add-field").addEventListener("click", function () {
      self.addRow({}).querySelector("[data-field=id]").focus();
    });
    this.modeler.on("selection.changed", function (event) {
      self.show(event.newSelection.length === 1 ? event.newSelection[0] : null);
    });
    this.modeler.on("elements.changed", function () {
      if (self.writing || self.form.contains(document.activeElement)) return;  // keep what is being typed
      var current = self.element && self.registry.get(self.element.id);
      self.show(current && current !== self.canvas.getRootElement() ? current : null);
    });
  };

  window.IsthmusPanel = { descriptor: DESCRIPTOR, Panel: Panel };
})();
