// The console's behaviour beyond htmx: draws the charts whose Chart.js configuration
// the page carries as JSON (deployments/console/charts.py), and sends the operator to
// the login page when a poll or a button is refused for a lapsed session.
(function () {
  "use strict";

  function percent(places) {
    return function (value) { return (value * 100).toFixed(places) + " %"; };
  }

  function asPercent(options) {
    var axis = Object.assign({}, (options.scales || {}).y);
    axis.ticks = { callback: percent(0) };
    options.scales = Object.assign({}, options.scales, { y: axis });
    options.plugins = Object.assign({}, options.plugins, {
      tooltip: { callbacks: { label: function (item) {
        var value = item.raw, shown = percent(1);
        return item.dataset.label + ": " +
          (Array.isArray(value) ? shown(value[0]) + " – " + shown(value[1]) : shown(value));
      } } }
    });
    return options;
  }

  function drawCharts(root) {
    if (typeof Chart === "undefined") { return; }
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (Chart.getChart(canvas)) { return; }
      var spec = JSON.parse(document.getElementById(canvas.dataset.chart).textContent);
      var options = Object.assign(
        { responsive: true, maintainAspectRatio: false, animation: false }, spec.options);
      new Chart(canvas, {
        type: spec.type, data: spec.data, options: spec.percent ? asPercent(options) : options
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:responseError", function (event) {
    if (event.detail.xhr.status === 401) {
      window.location.assign(document.body.dataset.login);
    }
  });
})();
