/* The report page's charts (Chart.js, vendored).  Data comes from the page's json_script
 * "report-charts" (one entry per dimension, built by reports.templatetags.report_tags.chart_payload);
 * each <canvas data-chart="..." data-index="i"> is drawn by the function of that name.
 * Intervals are floating bars [low, high]; estimates are points on top of them.
 * No inline script or style anywhere: the page's CSP allows scripts from 'self' only. */
(function () {
  "use strict";

  const source = document.getElementById("report-charts");
  if (!source || typeof window.Chart === "undefined") return;
  const Chart = window.Chart;
  const dims = JSON.parse(source.textContent);
  const charts = [];

  const INK = "#1d2330", MUTED = "#667085", ACCENT = "#2f5bea", INTERVAL = "rgba(47, 91, 234, 0.28)";
  const MEDIAN = "#b7791f";
  Chart.defaults.animation = false;
  Chart.defaults.color = MUTED;
  Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
  Chart.defaults.maintainAspectRatio = false;

  const finite = (x) => typeof x === "number" && isFinite(x);
  const fmt = (x, d) => (finite(x) ? x.toFixed(d) : "–");
  const range = (e) => (finite(e.lo) && finite(e.hi) ? [e.lo, e.hi] : null);

  // Dashed reference lines (Krippendorff's 0.667 and 0.800) drawn under the data.
  const thresholds = {
    id: "reportThresholds",
    beforeDatasetsDraw(chart, _args, options) {
      const lines = (options && options.lines) || [];
      const { ctx, chartArea, scales } = chart;
      if (!lines.length || !scales.x) return;
      ctx.save();
      ctx.setLineDash([4, 4]);
      ctx.lineWidth = 1;
      ctx.font = "11px system-ui, sans-serif";
      for (const line of lines) {
        const x = scales.x.getPixelForValue(line.value);
        if (x < chartArea.left || x > chartArea.right) continue;
        ctx.strokeStyle = line.color;
        ctx.fillStyle = line.color;
        ctx.beginPath();
        ctx.moveTo(x, chartArea.top);
        ctx.lineTo(x, chartArea.bottom);
        ctx.stroke();
        ctx.fillText(line.label, x + 3, chartArea.top + 10);
      }
      ctx.restore();
    },
  };

  function intervalDataset(label, entries, color) {
    return {
      type: "bar", label, data: entries.map(range), backgroundColor: color, borderColor: color,
      borderSkipped: false, borderRadius: 3, barPercentage: 0.5, categoryPercentage: 0.8, order: 2,
    };
  }

  function pointDataset(label, values, color, style) {
    return {
      type: "line", label, data: values.map((v) => (finite(v) ? v : null)), showLine: false,
      pointRadius: 6, pointHoverRadius: 7, pointStyle: style || "circle", pointBackgroundColor: color,
      borderColor: color, order: 1,
    };
  }

  function tooltipLabel(ctx) {
    const raw = ctx.raw;
    if (Array.isArray(raw)) return `${ctx.dataset.label}: [${fmt(raw[0], 3)}, ${fmt(raw[1], 3)}]`;
    return `${ctx.dataset.label}: ${fmt(raw, 3)}`;
  }

  const draw = {
    coefficients(canvas, dim) {
      const list = dim.coefficients;
      const lows = list.flatMap((c) => [c.lo, c.value]).filter(finite);
      const min = Math.min(0, Math.floor(Math.min(...lows, 0) * 10) / 10);
      return new Chart(canvas, {
        data: {
          labels: list.map((c) => c.name),
          datasets: [intervalDataset("95% interval", list, INTERVAL),
                     pointDataset("estimate", list.map((c) => c.value), ACCENT)],
        },
        options: {
          indexAxis: "y",
          scales: { x: { min, max: 1, grid: { color: "#eef0f4" } }, y: { ticks: { color: INK } } },
          plugins: {
            legend: { display: false },
            tooltip: { callbacks: { label: tooltipLabel } },
            reportThresholds: { lines: [
              { value: 0.667, label: "α .667", color: "#b7791f" },
              { value: 0.8, label: "α .800", color: "#1f8a4c" },
            ] },
          },
        },
        plugins: [thresholds],
      });
    },

    models(canvas, dim) {
      const list = dim.models;
      const scale = dim.scale || [undefined, undefined];
      return new Chart(canvas, {
        data: {
          labels: list.map((m) => m.model),
          datasets: [
            intervalDataset("mean, 95% interval", list, INTERVAL),
            pointDataset("mean", list.map((m) => m.mean), ACCENT),
            pointDataset("median", list.map((m) => m.median), MEDIAN, "rectRot"),
          ],
        },
        options: {
          indexAxis: "y",
          scales: { x: { min: scale[0], max: scale[1], grid: { color: "#eef0f4" } }, y: { ticks: { color: INK } } },
          plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } },
                     tooltip: { callbacks: { label: tooltipLabel } } },
        },
      });
    },

    distribution(canvas, dim) {
      const list = dim.models;
      const n = dim.values.length;
      const colour = (i) => `hsl(${n > 1 ? Math.round((i / (n - 1)) * 120) : 210}, 55%, ${50 + (i % 2) * 6}%)`;
      return new Chart(canvas, {
        type: "bar",
        data: {
          labels: list.map((m) => m.model),
          datasets: dim.values.map((value, i) => ({
            label: String(value), data: list.map((m) => m.counts[i]), backgroundColor: colour(i), stack: "s",
          })),
        },
        options: {
          indexAxis: "y",
          scales: { x: { stacked: true, title: { display: true, text: "ratings" } }, y: { stacked: true, ticks: { color: INK } } },
          plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
        },
      });
    },
  };

  for (const canvas of document.querySelectorAll("canvas[data-chart]")) {
    const kind = canvas.dataset.chart;
    const dim = dims[Number(canvas.dataset.index)];
    if (!draw[kind] || !dim) continue;
    try {
      charts.push(draw[kind](canvas, dim));
    } catch (error) {
      canvas.closest(".report-chart").hidden = true; // the table beside it still has the figures
      console.warn("report chart", kind, error);
    }
  }

  // Printing: open the folded tables and redraw the charts to the printed page's width.
  window.addEventListener("beforeprint", () => {
    document.querySelectorAll("details.report-disagreed").forEach((d) => { d.open = true; });
    charts.forEach((c) => c.resize());
  });
  window.addEventListener("afterprint", () => charts.forEach((c) => c.resize()));
})();
