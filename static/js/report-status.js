/* While a report is being computed, poll the small status endpoint every 1.5 s, show its progress,
 * and reload the page once it is done (or failed).  Reads its settings from json_script
 * "report-poll": {url, pending: id|null, shown: id|null}. */
(function () {
  "use strict";

  const source = document.getElementById("report-poll");
  if (!source) return;
  const poll = JSON.parse(source.textContent);
  if (!poll.pending) return;

  const box = document.getElementById("report-progress");
  const bar = document.getElementById("report-progress-bar");
  const text = document.getElementById("report-progress-text");
  const INTERVAL_MS = 1500;
  let failures = 0;

  function show(pending) {
    if (box) box.hidden = false;
    if (bar) bar.value = pending.progress || 0;
    if (text) {
      text.textContent = pending.status === "running"
        ? `Computing… ${Math.round((pending.progress || 0) * 100)}%`
        : "Waiting for a worker…";
    }
  }

  async function tick() {
    try {
      const response = await fetch(poll.url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.ok) {
        failures = 0;
        const state = await response.json();
        if (!state.pending || state.pending.id !== poll.pending || state.latest_done !== poll.shown) {
          window.location.reload();
          return;
        }
        show(state.pending);
      } else if (++failures > 5) {
        return; // logged out or the page is gone: stop asking
      }
    } catch (_error) {
      failures += 1; // offline for a moment: keep trying
    }
    window.setTimeout(tick, INTERVAL_MS);
  }

  window.setTimeout(tick, INTERVAL_MS);
})();
