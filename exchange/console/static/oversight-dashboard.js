// The console's dashboard charts: each element with data-chart names a JSON script element
// (type="application/json", not run) holding an Apache ECharts option, built by the hub from
// the /v1/stats figures (exchange/console/oversight/dashboard.py); this hands it to ECharts
// as it is. No inline script: the console's CSP is script-src 'self'.
"use strict";

(function () {
  function draw(element) {
    const source = document.getElementById(element.dataset.chart);
    if (!source || typeof echarts === "undefined") {
      return;
    }
    const chart = echarts.init(element, null, { renderer: "canvas" });
    chart.setOption(JSON.parse(source.textContent));
    element.dataset.drawn = "yes";
    window.addEventListener("resize", function () { chart.resize(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    for (const element of document.querySelectorAll("[data-chart]")) {
      draw(element);
    }
  });
})();
