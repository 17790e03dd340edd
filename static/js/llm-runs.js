/* While a model run is running, poll the runs status endpoint every 2 s and update each row's
 * progress; reload once none is running (so the buttons match).  No data goes through innerHTML. */
(function () {
  "use strict";

  const flag = document.getElementById("llm-runs-running");
  const source = document.getElementById("llm-runs-status-url");
  if (!flag || !source || !JSON.parse(flag.textContent)) return;
  const url = source.dataset.url;
  const INTERVAL_MS = 2000;
  let failures = 0;

  function set(row, field, value) {
    const cell = row.querySelector(`[data-field="${field}"]`);
    if (cell) cell.textContent = value;
  }

  async function tick() {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) {
        if (++failures > 5) return;
      } else {
        failures = 0;
        const state = await response.json();
        let running = false;
        for (const run of state.runs) {
          const row = document.querySelector(`tr[data-run="${run.id}"]`);
          if (!row) continue;
          if (run.status === "running") running = true;
          set(row, "status", run.status);
          set(row, "count", `${run.finished} / ${run.total}`);
          set(row, "invalid", String(run.invalid));
          set(row, "failed", String(run.failed));
          set(row, "cost", Number(run.cost).toFixed(4));
          const bar = row.querySelector('[data-field="bar"]');
          if (bar) { bar.max = run.total || 1; bar.value = run.finished; }
        }
        if (!running) { window.location.reload(); return; }
      }
    } catch (_error) {
      failures += 1;
    }
    window.setTimeout(tick, INTERVAL_MS);
  }

  window.setTimeout(tick, INTERVAL_MS);
})();
