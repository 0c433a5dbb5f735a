// Live parts of the console: an element with data-stream="URL" listens to that server-sent
// event stream and, on each event named in data-events, fires "live" on the elements matched
// by data-refresh, whose hx-trigger="live" reloads them through htmx.
(function () {
  "use strict";
  function follow(element) {
    var source = new EventSource(element.getAttribute("data-stream"));
    var names = (element.getAttribute("data-events") || "message").split(" ");
    var refresh = function () {
      document.querySelectorAll(element.getAttribute("data-refresh")).forEach(function (target) {
        if (window.htmx) { window.htmx.trigger(target, "live"); }
      });
      element.setAttribute("data-seen", String(Number(element.getAttribute("data-seen") || 0) + 1));
    };
    names.forEach(function (name) { source.addEventListener(name, refresh); });
    source.addEventListener("ready", function () { element.setAttribute("data-ready", "true"); });
    window.addEventListener("pagehide", function () { source.close(); });
  }
  function start() { document.querySelectorAll("[data-stream]").forEach(follow); }
  // A form marked data-reset empties itself once htmx has posted it successfully.
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.target;
    if (form.matches && form.matches("form[data-reset]") && event.detail.successful) {
      form.reset();
    }
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
