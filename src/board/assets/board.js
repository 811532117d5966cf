// storypack board: live updates. The pages work without this script; with it, a change of
// the plan, a handoff or a claim (server-sent events from /events) re-fetches the page and
// swaps its <main> in, without a reload.
(function () {
  "use strict";
  if (!window.EventSource || !window.fetch || !window.DOMParser) return;
  var busy = false;
  var again = false;
  function say(text) {
    var live = document.getElementById("live");
    if (live) live.textContent = text;
  }
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.text(); })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, "text/html");
        var next = doc.getElementById("main");
        var main = document.getElementById("main");
        if (next && main) {
          main.replaceWith(document.importNode(next, true));
          document.title = doc.title;
          document.documentElement.setAttribute("data-updates",
            String(Number(document.documentElement.getAttribute("data-updates") || "0") + 1));
          say("Updated at " + new Date().toLocaleTimeString());
        }
      })
      .catch(function (e) { say("Live update failed: " + e.message); })
      .then(function () { busy = false; if (again) { again = false; refresh(); } });
  }
  var events = new EventSource("/events");
  events.addEventListener("change", refresh);
  events.addEventListener("open", function () { document.documentElement.setAttribute("data-live", "open"); });
})();
