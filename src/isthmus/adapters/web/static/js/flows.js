// Connect › flows: the metrics chart of a flow's page (messages and failures as bars, latency as
// lines on a second axis) and "select all" on the dead letters. Data comes from
// <script type="application/json" id="flow-chart-data"> (CSP: no inline JS). Every page works
// without this file.
(function () {
  "use strict";

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function label(iso, bucket) {
    var d = new Date(iso);
    var day = pad(d.getMonth() + 1) + "-" + pad(d.getDate());
    return bucket >= 86400 ? day : day + " " + pad(d.getHours()) + ":00";
  }

  function drawChart() {
    var holder = document.getElementById("flow-chart");
    var source = document.getElementById("flow-chart-data");
    if (!holder || !source || typeof echarts === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var chart = echarts.init(holder, null, { renderer: "canvas" });
    var names = {
      messages: holder.getAttribute("data-messages"),
      failures: holder.getAttribute("data-failures"),
      avg: holder.getAttribute("data-latency-avg"),
      max: holder.getAttribute("data-latency-max")
    };
    chart.setOption({
      animation: false,
      grid: { left: 8, right: 8, top: 36, bottom: 8, containLabel: true },
      legend: { top: 0, data: [names.messages, names.failures, names.avg, names.max] },
      tooltip: { trigger: "axis", renderMode: "richText" },
      xAxis: { type: "category", data: data.times.map(function (t) { return label(t, data.bucket_s); }) },
      yAxis: [
        { type: "value", minInterval: 1, splitLine: { lineStyle: { color: "#e5e7eb" } } },
        { type: "value", name: "ms", splitLine: { show: false } }
      ],
      series: [
        { name: names.messages, type: "bar", data: data.messages, itemStyle: { color: "#3b82f6" } },
        { name: names.failures, type: "bar", data: data.failures, itemStyle: { color: "#dc2626" } },
        { name: names.avg, type: "line", yAxisIndex: 1, data: data.latency_avg, connectNulls: true, symbolSize: 4, itemStyle: { color: "#16a34a" } },
        { name: names.max, type: "line", yAxisIndex: 1, data: data.latency_max, connectNulls: true, symbolSize: 4, lineStyle: { type: "dashed" }, itemStyle: { color: "#a16207" } }
      ]
    });
    holder.setAttribute("data-ready", "true");
    window.addEventListener("resize", function () { chart.resize(); });
  }

  function setUpSelectAll() {
    var all = document.getElementById("dlq-all");
    var form = document.getElementById("dlq-form");
    if (!all || !form) { return; }
    all.hidden = false;
    all.addEventListener("change", function () {
      form.querySelectorAll('input[name="ids"][type="checkbox"]').forEach(function (box) { box.checked = all.checked; });
    });
  }

  function start() { drawChart(); setUpSelectAll(); }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
