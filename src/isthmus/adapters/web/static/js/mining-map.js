// The log page: process map (ECharts graph, coordinates computed by the server, left to right),
// frequency/performance toggle, path-coverage slider, a click on an edge lists its cases; and the
// waiting-versus-service bar chart. Data comes from JSON <script> blocks (CSP: no inline JS).
(function () {
  "use strict";
  var COL = 190, ROW = 90;

  function readJson(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function hours(seconds) {
    if (seconds === null || seconds === undefined) { return ""; }
    if (seconds < 3600) { return (seconds / 60).toFixed(1) + " min"; }
    if (seconds < 172800) { return (seconds / 3600).toFixed(1) + " h"; }
    return (seconds / 86400).toFixed(1) + " d";
  }

  // Keep the most frequent edges until they hold `coverage` of all transitions (as the BPMN export does).
  function kept(edges, coverage) {
    var sorted = edges.slice().sort(function (a, b) { return b.count - a.count; });
    var total = sorted.reduce(function (s, e) { return s + e.count; }, 0) || 1;
    var out = [], running = 0;
    for (var i = 0; i < sorted.length; i++) {
      if (out.length && running / total >= coverage) { break; }
      out.push(sorted[i]);
      running += sorted[i].count;
    }
    return out;
  }

  function drawMap(holder) {
    var data = readJson(holder.getAttribute("data-map-source"));
    if (!data || typeof echarts === "undefined") { return; }
    var chart = echarts.init(holder, null, { renderer: "canvas" });
    var slider = document.getElementById("map-coverage");
    var output = document.getElementById("map-coverage-value");
    var modes = document.querySelectorAll("input[name=map-mode]");
    var maxCount = Math.max.apply(null, data.edges.map(function (e) { return e.count; }).concat([1]));
    var maxNode = Math.max.apply(null, data.nodes.map(function (n) { return n.count; }).concat([1]));

    function mode() {
      for (var i = 0; i < modes.length; i++) { if (modes[i].checked) { return modes[i].value; } }
      return "frequency";
    }

    function render() {
      var coverage = Number(slider.value) / 100;
      output.textContent = slider.value + "%";
      var edges = kept(data.edges, coverage);
      var used = {};
      edges.forEach(function (e) { used[e.source] = true; used[e.target] = true; });
      var perf = mode() === "performance";
      var nodes = data.nodes.filter(function (n) { return used[n.id]; }).map(function (n) {
        var terminal = n.id === "__start" || n.id === "__end";
        return {
          name: n.id, x: n.col * COL, y: n.row * ROW,
          symbol: terminal ? "circle" : "roundRect",
          symbolSize: terminal ? 18 : [150, 44],
          label: { show: !terminal, formatter: n.id + (terminal ? "" : "\n" + n.count.toLocaleString()), color: "#111827" },
          itemStyle: { color: terminal ? (n.id === "__start" ? "#4a7c59" : "#374151")
            : "rgba(37, 99, 235, " + (0.15 + 0.6 * n.count / maxNode).toFixed(2) + ")", borderColor: "#1e3a8a" }
        };
      });
      var links = edges.map(function (e) {
        return {
          source: e.source, target: e.target, value: e.count, raw: e,
          label: { show: true, formatter: perf ? hours(e.median_s) : e.count.toLocaleString(), fontSize: 11 },
          lineStyle: { width: 1 + 6 * e.count / maxCount, curveness: e.source === e.target ? 0.6 : 0.15,
            color: perf && e.median_s ? "#c2410c" : "#64748b", opacity: 0.8 }
        };
      });
      chart.setOption({
        animation: false,
        tooltip: { renderMode: "richText", formatter: function (p) {
          if (p.dataType === "edge") {
            var r = p.data.raw;
            return r.source + " → " + r.target + "\n" + r.count.toLocaleString() + (r.mean_s !== null ? " · " + hours(r.mean_s) : "");
          }
          return p.name;
        } },
        series: [{ type: "graph", layout: "none", roam: true, edgeSymbol: ["none", "arrow"], edgeSymbolSize: 8,
          data: nodes, links: links }]
      }, true);
      holder.setAttribute("data-edges", String(links.length));
      holder.setAttribute("data-ready", "true");
    }

    chart.on("click", function (params) {
      if (params.dataType !== "edge") { return; }
      var edge = params.data.raw;
      var box = document.getElementById("edge-cases");
      if (edge.source === "__start" || edge.target === "__end") { box.textContent = ""; return; }
      var url = "/api/v1/logs/" + encodeURIComponent(data.log_id) + "/edges?limit=50&source=" +
        encodeURIComponent(edge.source) + "&target=" + encodeURIComponent(edge.target);
      fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (body) {
        box.textContent = "";
        var title = document.createElement("h3");
        title.textContent = box.getAttribute("data-title") + ": " + edge.source + " → " + edge.target + " (" + body.cases + ")";
        var list = document.createElement("ul");
        list.className = "case-list";
        body.case_ids.forEach(function (id) {
          var item = document.createElement("li");
          item.textContent = id;
          list.appendChild(item);
        });
        box.appendChild(title);
        box.appendChild(list);
        if (body.cases > body.case_ids.length) {
          var more = document.createElement("p");
          more.textContent = box.getAttribute("data-more").replace("{n}", String(body.cases - body.case_ids.length));
          box.appendChild(more);
        }
      });
    });
    slider.addEventListener("input", render);
    for (var i = 0; i < modes.length; i++) { modes[i].addEventListener("change", render); }
    window.addEventListener("resize", function () { chart.resize(); });
    render();
  }

  function drawWaiting(holder) {
    var data = readJson(holder.getAttribute("data-chart-source"));
    if (!data || typeof echarts === "undefined") { return; }
    holder.style.height = Math.max(160, data.activities.length * 30 + 60) + "px";
    var chart = echarts.init(holder, null, { renderer: "canvas" });
    chart.setOption({
      animation: false,
      legend: { top: 0 },
      grid: { left: 8, right: 24, top: 32, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, renderMode: "richText" },
      xAxis: { type: "value" },
      yAxis: { type: "category", inverse: true, data: data.activities },
      series: [
        { name: holder.getAttribute("data-waiting"), type: "bar", stack: "t", color: "#c2410c",
          data: data.waiting_h.map(function (v) { return Number(v.toFixed(1)); }) },
        { name: holder.getAttribute("data-service"), type: "bar", stack: "t", color: "#2563eb",
          data: data.service_h.map(function (v) { return Number(v.toFixed(1)); }) }
      ]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }

  function start() {
    var map = document.querySelector("[data-map-source]");
    if (map) { drawMap(map); }
    var waiting = document.getElementById("waiting-chart");
    if (waiting) { drawWaiting(waiting); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
