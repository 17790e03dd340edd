/* The suite page's trend chart (Chart.js, vendored): one line per model over the rounds, with its
 * 95% interval as a floating bar.  Data: the page's json_script "suite-trends" (suites.trends). */
(function () {
  "use strict";
  const source = document.getElementById("suite-trends");
  const canvas = document.getElementById("trend-chart");
  if (!source || !canvas || typeof window.Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const points = data.points || [];
  const dimSelect = document.getElementById("trend-dimension");
  const groupSelect = document.getElementById("trend-subgroup");
  const COLORS = ["#2f5bea", "#b7791f", "#12a150", "#c2410c", "#7c3aed", "#0e7490"];
  const groupKey = (p) => (p.subgroup_field === null ? "" : p.subgroup_field + "=" + p.subgroup_value);

  function fill(select, values, label) {
    select.textContent = "";
    for (const v of values) {
      const option = document.createElement("option");
      option.value = v;
      option.textContent = label(v);
      select.appendChild(option);
    }
  }
  fill(dimSelect, [...new Set(points.map((p) => p.dimension))], (v) => v);
  fill(groupSelect, [...new Set(points.map(groupKey))].sort(), (v) => (v === "" ? "all items" : v));

  let chart = null;
  function draw() {
    const dim = dimSelect.value, group = groupSelect.value;
    const chosen = points.filter((p) => p.dimension === dim && groupKey(p) === group);
    const labels = data.rounds.map((r) => "round " + r);
    const models = [...new Set(chosen.map((p) => p.model))].sort();
    const datasets = [];
    models.forEach((model, i) => {
      const color = COLORS[i % COLORS.length];
      const at = (r) => chosen.find((p) => p.model === model && p.round === r);
      datasets.push({ type: "line", label: model, borderColor: color, backgroundColor: color, spanGaps: true,
                      data: data.rounds.map((r) => (at(r) ? at(r).mean : null)) });
      datasets.push({ type: "bar", label: model + " 95% CI", backgroundColor: color + "44", borderWidth: 0,
                      data: data.rounds.map((r) => { const p = at(r); return p && p.ci_low !== null ? [p.ci_low, p.ci_high] : null; }) });
    });
    if (chart) chart.destroy();
    chart = new window.Chart(canvas, { data: { labels, datasets },
      options: { animation: false, maintainAspectRatio: false, plugins: { legend: { position: "bottom" } } } });
  }
  dimSelect.addEventListener("change", draw);
  groupSelect.addEventListener("change", draw);
  draw();
})();
