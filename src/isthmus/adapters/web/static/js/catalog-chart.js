// The catalog's bar chart: average handling hours per process, coloured by priority.
// Data comes from <script type="application/json" id="catalog-chart-data"> (CSP: no inline JS),
// and the chart is redrawn whenever htmx swaps in new results (search, sort, filter).
(function () {
  "use strict";
  var COLOURS = { high: "#c2410c", medium: "#b7791f", low: "#4a7c59" };

  function draw(root) {
    var holder = root.querySelector ? root.querySelector("[data-chart-source]") : null;
    if (!holder && root.matches && root.matches("[data-chart-source]")) { holder = root; }
    if (!holder || typeof echarts === "undefined") { return; }
    var source = document.getElementById(holder.getAttribute("data-chart-source"));
    if (!source) { return; }
    var data = JSON.parse(source.textContent);
    var existing = echarts.getInstanceByDom(holder);
    if (existing) { existing.dispose(); }
    var chart = echarts.init(holder, null, { renderer: "canvas" });
    chart.setOption({
      animation: false,
      grid: { left: 8, right: 24, top: 16, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, renderMode: "richText",
        formatter: function (params) {
          var item = data.items[params[0].dataIndex];
          return item.id + " " + item.name + "\n" + item.hours + " " + data.unit + " · " + data.labels[item.priority];
        } },
      xAxis: { type: "value", splitLine: { lineStyle: { color: "#e5e7eb" } } },
      yAxis: { type: "category", inverse: true, axisTick: { show: false },
        data: data.items.map(function (item) { return item.id; }) },
      series: [{
        type: "bar", barMaxWidth: 22,
        label: { show: true, position: "right", color: "#374151" },
        data: data.items.map(function (item) {
          return { value: item.hours, itemStyle: { color: COLOURS[item.priority] || "#64748b", borderRadius: [0, 3, 3, 0] } };
        })
      }]
    });
    holder.style.height = Math.max(140, data.items.length * 36 + 40) + "px";
    chart.resize();
  }

  function start() {
    draw(document);
    // Free the old chart before htmx replaces its element, then draw the new one.
    document.body.addEventListener("htmx:beforeSwap", function (event) {
      var old = event.target.querySelector("[data-chart-source]");
      var chart = old && typeof echarts !== "undefined" ? echarts.getInstanceByDom(old) : null;
      if (chart) { chart.dispose(); }
    });
    document.body.addEventListener("htmx:afterSettle", function (event) { draw(event.target); });
    window.addEventListener("resize", function () {
      var holder = document.querySelector("[data-chart-source]");
      var chart = holder && typeof echarts !== "undefined" ? echarts.getInstanceByDom(holder) : null;
      if (chart) { chart.resize(); }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
