// Live status: the page (the returns list, the review queue, a return) names the returns
// still moving (data-live); their statuses are
// polled every two seconds until each rests, less often (up to every 30 s) while nothing
// changes, as for a return waiting in the review queue. A return's own page reloads when its
// status changes, to show the new timeline.
(function () {
  "use strict";
  var TERMINAL = { completed: true, failed: true, cancelled: true };
  var single = document.querySelector("#status[data-live]");
  var table = document.querySelector("table[data-live], #queue[data-live]");
  var ids = [];
  var FAST = 2000, SLOW = 30000, wait = FAST;
  if (single) { ids = [single.getAttribute("data-live")]; }
  else if (table && table.getAttribute("data-live")) { ids = table.getAttribute("data-live").split(","); }
  if (!ids.length) { return; }

  function show(id, status) {
    var changed = false;
    var spans = document.querySelectorAll('[data-return="' + id + '"]');
    for (var i = 0; i < spans.length; i++) {
      var span = spans[i];
      if (span.textContent !== status.replace(/_/g, " ")) {
        span.textContent = status.replace(/_/g, " ");
        span.className = "status st-" + status;
        changed = true;
        if (single) { window.location.reload(); return true; }
      }
    }
    return changed;
  }

  function poll() {
    var request = new XMLHttpRequest();
    request.open("GET", "/dashboard/returns/status?ids=" + encodeURIComponent(ids.join(",")));
    request.onload = function () {
      if (request.status !== 200) { return; }
      var statuses = JSON.parse(request.responseText).statuses || {};
      var moving = [];
      var changed = false;
      for (var n = 0; n < ids.length; n++) {
        var status = statuses[ids[n]];
        if (!status) { continue; }
        changed = show(ids[n], status) || changed;
        if (!TERMINAL[status]) { moving.push(ids[n]); }
      }
      ids = moving;
      document.body.setAttribute("data-polled", String(Date.now()));
      wait = changed ? FAST : Math.min(SLOW, Math.round(wait * 1.5));
      if (ids.length) { window.setTimeout(poll, wait); }
    };
    request.onerror = function () { window.setTimeout(poll, SLOW); };
    request.send();
  }
  window.setTimeout(poll, 1000);
})();
