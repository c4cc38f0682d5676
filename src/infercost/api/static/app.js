// Draw every plot whose figure (plotly JSON) came with the page or an htmx fragment.
(function () {
  "use strict";
  function draw(root) {
    if (typeof Plotly === "undefined") return;
    root.querySelectorAll(".plot[data-figure]:not([data-drawn])").forEach(function (el) {
      var fig = JSON.parse(el.getAttribute("data-figure"));
      el.setAttribute("data-drawn", "pending");
      Plotly.newPlot(el, fig.data, fig.layout, { displaylogo: false, responsive: true }).then(
        function () { el.setAttribute("data-drawn", "yes"); }
      );
    });
  }
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSettle", function (evt) { draw(evt.detail.elt || document); });
  // a fragment swapped into a parent: look from the document so nothing is missed
  document.addEventListener("htmx:load", function () { draw(document); });
})();
