// Live status: the page names the returns still moving (data-live); their statuses are
// polled every two seconds until each rests. A return's own page reloads when its status
// changes, to show the new timeline.
(function () {
  "use strict";
  var TERMINAL = { completed: true, failed: true, cancelled: true };
  var single = document.querySelector("#status[data-live]");
  var table = document.querySelector("table[data-live]");
  var ids = [];
  if (single) { ids = [single.getAttribute("data-live")]; }
  else if (table && table.getAttribute("data-live")) { ids = table.getAttribute("data-live").split(","); }
  if (!ids.length) { return; }

  function show(id, status) {
    var spans = document.querySelectorAll('[data-return="' + id + '"]');
    for (var i = 0; i < spans.length; i++) {
      var span = spans[i];
      if (span.textContent !== status.replace(/_/g, " ")) {
        span.textContent = status.replace(/_/g, " ");
        span.className = "status st-" + status;
        if (single) { window.location.reload(); return; }
      }
    }
  }

  function poll() {
    var request = new XMLHttpRequest();
    request.open("GET", "/dashboard/returns/status?ids=" + encodeURIComponent(ids.join(",")));
    request.onload = function () {
      if (request.status !== 200) { return; }
      var statuses = JSON.parse(request.responseText).statuses || {};
      var moving = [];
      for (var n = 0; n < ids.length; n++) {
        var status = statuses[ids[n]];
        if (!status) { continue; }
        show(ids[n], status);
        if (!TERMINAL[status]) { moving.push(ids[n]); }
      }
      ids = moving;
      document.body.setAttribute("data-polled", String(Date.now()));
      if (ids.length) { window.setTimeout(poll, 2000); }
    };
    request.send();
  }
  window.setTimeout(poll, 1000);
})();
