// Crawl history charts: Chart.js (vendored) over /api/crawls.
"use strict";

async function draw() {
  const history = await (await fetch("/api/crawls")).json();
  const s = history.series;
  const labels = history.crawls.map((c) => (c.started || c.file).replace("T", " ").slice(0, 19));
  const bar = (id, datasets, extra = {}) => new Chart(document.getElementById(id), {
    type: "bar",
    data: { labels, datasets },
    options: { animation: false, responsive: true, interaction: { mode: "index" }, ...extra },
  });
  bar("chart-pages", [
    { label: "ok", data: s.pages_ok, backgroundColor: "#2f9e44" },
    { label: "failed", data: s.pages_failed, backgroundColor: "#e03131" },
    { label: "new", data: s.pages_new, backgroundColor: "#1f6feb" },
    { label: "changed", data: s.pages_changed, backgroundColor: "#f08c00" },
    { label: "removed", data: s.pages_removed, backgroundColor: "#868e96" },
  ]);
  bar("chart-calls", [{ label: "LLM calls", data: s.llm_calls, backgroundColor: "#5f3dc4" }]);
  bar("chart-tokens", [
    { label: "prompt tokens", data: s.prompt_tokens, backgroundColor: "#74c0fc", stack: "t" },
    { label: "completion tokens", data: s.completion_tokens, backgroundColor: "#1864ab", stack: "t" },
    { label: "cost (USD)", data: s.cost_usd, type: "line", yAxisID: "cost", borderColor: "#e8590c",
      backgroundColor: "#e8590c", spanGaps: true },
  ], { scales: { y: { stacked: true, title: { display: true, text: "tokens" } },
                 cost: { position: "right", beginAtZero: true, title: { display: true, text: "USD" },
                         grid: { drawOnChartArea: false } } } });
  bar("chart-entities", [
    { label: "entities added", data: s.entities_added, backgroundColor: "#2f9e44" },
    { label: "entities removed", data: s.entities_removed, backgroundColor: "#e03131" },
  ]);
  document.body.dataset.charts = String(Chart.instances ? Object.keys(Chart.instances).length : 4);
}

if (document.getElementById("chart-pages")) draw();
