/* The report's model-comparison charts (Chart.js, vendored): the leaderboard's Bradley–Terry ratings
 * with their 95% intervals, and the left-wins rate of position bias per rater.  Data comes from the
 * page's json_script blocks "comparisons-leaderboard" and "comparisons-position-bias"; each
 * <canvas data-comparisons-chart="leaderboard|position" data-index="i"> is drawn once.
 * Several includes load this file; it draws each canvas once whichever copy runs.
 * No inline script or style: the page's CSP allows scripts from 'self' only. */
(function () {
  "use strict";

  const INK = "#1d2330", MUTED = "#667085", ACCENT = "#2f5bea", INTERVAL = "rgba(47, 91, 234, 0.28)";
  const WARN = "#b7791f", BAD = "rgba(192, 57, 43, 0.35)";
  const finite = (x) => typeof x === "number" && isFinite(x);
  const fmt = (x, d) => (finite(x) ? x.toFixed(d) : "–");
  const interval = (ci) => (ci && finite(ci[0]) && finite(ci[1]) ? [ci[0], ci[1]] : null);

  function payload(id) {
    const node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : [];
  }

  // A dashed vertical line at a value of the x axis (the average model; an even left/right split).
  const reference = {
    id: "comparisonsReference",
    beforeDatasetsDraw(chart, _args, options) {
      if (!options || !finite(options.value) || !chart.scales.x) return;
      const { ctx, chartArea } = chart;
      const x = chart.scales.x.getPixelForValue(options.value);
      if (x < chartArea.left || x > chartArea.right) return;
      ctx.save();
      ctx.setLineDash([4, 4]);
      ctx.strokeStyle = WARN;
      ctx.fillStyle = WARN;
      ctx.font = "11px system-ui, sans-serif";
      ctx.beginPath();
      ctx.moveTo(x, chartArea.top);
      ctx.lineTo(x, chartArea.bottom);
      ctx.stroke();
      ctx.fillText(options.label || "", x + 3, chartArea.top + 10);
      ctx.restore();
    },
  };

  function intervalChart(Chart, canvas, { labels, intervals, points, colours, line, min, max, digits }) {
    return new Chart(canvas, {
      data: {
        labels,
        datasets: [
          { type: "bar", label: "95% interval", data: intervals, backgroundColor: colours, borderColor: colours,
            borderSkipped: false, borderRadius: 3, barPercentage: 0.5, categoryPercentage: 0.8, order: 2 },
          { type: "line", label: "estimate", data: points.map((v) => (finite(v) ? v : null)), showLine: false,
            pointRadius: 6, pointHoverRadius: 7, pointBackgroundColor: ACCENT, borderColor: ACCENT, order: 1 },
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        indexAxis: "y",
        scales: { x: { min, max, grid: { color: "#eef0f4" } }, y: { ticks: { color: INK } } },
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: (ctx) => (Array.isArray(ctx.raw)
            ? `95% interval: [${fmt(ctx.raw[0], digits)}, ${fmt(ctx.raw[1], digits)}]`
            : `estimate: ${fmt(ctx.raw, digits)}`) } },
          comparisonsReference: line,
        },
      },
      plugins: [reference],
    });
  }

  const draw = {
    leaderboard(Chart, canvas, board) {
      const models = board.models;
      const bounds = models.flatMap((m) => [m.rating, ...(m.ci95 || [])]).filter(finite);
      const pad = 25;
      return intervalChart(Chart, canvas, {
        labels: models.map((m) => m.model),
        intervals: models.map((m) => interval(m.ci95)),
        points: models.map((m) => m.rating),
        colours: INTERVAL,
        line: { value: 1000, label: "average" },
        min: bounds.length ? Math.floor((Math.min(...bounds) - pad) / 50) * 50 : undefined,
        max: bounds.length ? Math.ceil((Math.max(...bounds) + pad) / 50) * 50 : undefined,
        digits: 0,
      });
    },

    position(Chart, canvas, entry) {
      const rows = [{ ...entry.overall, rater: "everyone" }, ...entry.per_rater];
      const biased = (r) => { const ci = interval(r.ci95); return ci && (ci[1] < 0.5 || ci[0] > 0.5); };
      return intervalChart(Chart, canvas, {
        labels: rows.map((r) => String(r.rater)),
        intervals: rows.map((r) => interval(r.ci95)),
        points: rows.map((r) => r.left_win_rate),
        colours: rows.map((r) => (biased(r) ? BAD : INTERVAL)),
        line: { value: 0.5, label: "no bias" },
        min: 0,
        max: 1,
        digits: 2,
      });
    },
  };

  function start() {
    const Chart = window.Chart;
    if (typeof Chart === "undefined") return;
    Chart.defaults.color = MUTED;
    const data = { leaderboard: payload("comparisons-leaderboard"), position: payload("comparisons-position-bias") };
    for (const canvas of document.querySelectorAll("canvas[data-comparisons-chart]")) {
      if (canvas.dataset.drawn) continue;
      const kind = canvas.dataset.comparisonsChart;
      const entry = (data[kind] || [])[Number(canvas.dataset.index)];
      if (!draw[kind] || !entry) continue;
      canvas.dataset.drawn = "1";
      try {
        draw[kind](Chart, canvas, entry);
      } catch (error) {
        canvas.closest(".report-chart").hidden = true; // the table beside it still has the figures
        console.warn("comparison chart", kind, error);
      }
    }
  }

  // Chart.js is a deferred script later in the page: wait for the document (deferred scripts run first).
  if (document.readyState === "complete" || typeof window.Chart !== "undefined") start();
  else document.addEventListener("DOMContentLoaded", start, { once: true });
})();
