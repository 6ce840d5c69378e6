// Merx web pages: draws the charts described by <canvas data-chart="{...}"> and wires the
// CSRF token into every HTMX request. No framework, no build step.
(function () {
  "use strict";
  var PALETTE = ["#2453d4", "#17a673", "#f0a202", "#d64550", "#7b4fd6", "#1c9ec9", "#8c8c8c", "#e46f2e"];

  function drawCharts(root) {
    if (typeof Chart === "undefined") return;
    (root || document).querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (Chart.getChart(canvas)) return;
      var spec = JSON.parse(canvas.getAttribute("data-chart"));
      (spec.data.datasets || []).forEach(function (ds, i) {
        var color = ds.color || PALETTE[i % PALETTE.length];
        if (spec.type === "pie" || spec.type === "doughnut") {
          ds.backgroundColor = ds.backgroundColor || PALETTE;
        } else {
          ds.backgroundColor = ds.backgroundColor || (spec.type === "line" ? color + "33" : color);
          ds.borderColor = ds.borderColor || color;
        }
        delete ds.color;
      });
      var options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false,
                                    plugins: { legend: { display: (spec.data.datasets || []).length > 1 } } },
                                  spec.options || {});
      new Chart(canvas, { type: spec.type, data: spec.data, options: options });
      canvas.setAttribute("data-chart-ready", "1");
    });
  }

  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:afterSettle", function (e) { drawCharts(e.target); });
  // the shopper's own time zone: marketing sends in their local send windows
  var tz = document.getElementById("browser-timezone");
  if (tz && window.Intl) {
    try { tz.value = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (err) { /* keep empty */ }
  }
  document.addEventListener("htmx:configRequest", function (e) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) e.detail.headers["X-CSRF-Token"] = meta.content;
  });
})();
