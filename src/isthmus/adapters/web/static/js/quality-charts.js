// The data-quality profile as ECharts: null rate per column, and the top values and pattern classes
// of the column chosen in the select. Data comes from <script type="application/json"
// id="profile-chart-data"> (CSP: no inline JS).
(function () {
  "use strict";

  function bars(holder, labels, values, percent) {
    if (!holder) { return; }
    var existing = echarts.getInstanceByDom(holder);
    if (existing) { existing.dispose(); }
    holder.style.height = Math.max(120, labels.length * 28 + 40) + "px";
    var chart = echarts.init(holder, null, { renderer: "canvas" });
    chart.setOption({
      animation: false,
      grid: { left: 8, right: 48, top: 8, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, renderMode: "richText" },
      xAxis: { type: "value", max: percent ? 100 : null, splitLine: { lineStyle: { color: "#e5e7eb" } } },
      yAxis: { type: "category", inverse: true, axisTick: { show: false }, data: labels },
      series: [{
        type: "bar", barMaxWidth: 20, itemStyle: { color: percent ? "#c2410c" : "#4a7c59" },
        label: { show: true, position: "right", color: "#374151", formatter: percent ? "{c}%" : "{c}" },
        data: values
      }]
    });
  }

  function draw() {
    var source = document.getElementById("profile-chart-data");
    if (!source || typeof echarts === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    bars(document.getElementById("chart-null-rate"),
      data.columns.map(function (c) { return c.name; }),
      data.columns.map(function (c) { return Math.round(c.null_rate * 1000) / 10; }), true);
    var select = document.getElementById("chart-column");
    function column() {
      var chosen = data.columns[select ? Number(select.value) : 0];
      if (!chosen) { return; }
      bars(document.getElementById("chart-top-values"),
        chosen.top_values.map(function (v) { return v.value === null ? "∅" : String(v.value); }),
        chosen.top_values.map(function (v) { return v.count; }), false);
      bars(document.getElementById("chart-patterns"),
        chosen.patterns.map(function (p) { return p.pattern; }),
        chosen.patterns.map(function (p) { return p.count; }), false);
    }
    if (select) { select.addEventListener("change", column); }
    column();
    window.addEventListener("resize", function () {
      ["chart-null-rate", "chart-top-values", "chart-patterns"].forEach(function (id) {
        var holder = document.getElementById(id);
        var chart = holder ? echarts.getInstanceByDom(holder) : null;
        if (chart) { chart.resize(); }
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
