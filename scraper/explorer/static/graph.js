// The neighbourhood picture: cytoscape.js (vendored) draws /api/neighbourhood on a canvas.

const PALETTE = {
  Person: "#e8590c", Organization: "#1f6feb", Product: "#2f9e44", Place: "#9c36b5",
  Event: "#f08c00", CreativeWork: "#0c8599", Thing: "#868e96",
};
const EXTRA = ["#d6336c", "#5c940d", "#364fc7", "#a61e4d", "#087f5b", "#e67700", "#5f3dc4"];

function colour(type) {
  if (PALETTE[type]) return PALETTE[type];
  let hash = 0;
  for (const c of type) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
  return EXTRA[hash % EXTRA.length];
}

function label(name, id) {
  const text = name || id.replace(/^.*[:/#]/, "");
  return text.length > 40 ? text.slice(0, 39) + "…" : text;
}

const box = document.getElementById("cy");
const status = document.getElementById("graph-status");
const params = new URLSearchParams({ id: box.dataset.id, hops: box.dataset.hops });
// The graph is asked for while the library loads.
const [{ default: cytoscape }, response] = await Promise.all([
  import("/static/vendor/cytoscape.esm.min.js"),
  fetch("/api/neighbourhood?" + params),
]);
const view = await response.json();
if (!response.ok) {
  status.textContent = view.error;
} else {
  const elements = [
    ...view.nodes.map((n) => ({
      data: { id: n.id, label: label(n.name, n.id), type: n.type, hop: n.hop,
              colour: colour(n.type), center: n.id === view.center ? 1 : 0 },
    })),
    ...view.edges.map((e, i) => ({
      data: { id: "e" + i, source: e.source, target: e.target, label: e.type.replace(/^schema:/, "") },
    })),
  ];
  const big = view.nodes.length > 80;
  const cy = cytoscape({
    container: box,
    elements,
    wheelSensitivity: 0.3,
    style: [
      { selector: "node", style: {
          "background-color": "data(colour)", label: big ? "" : "data(label)",
          "font-size": 10, "text-valign": "bottom", "text-margin-y": 3, width: 16, height: 16 } },
      { selector: "node[center = 1]", style: {
          width: 28, height: 28, label: "data(label)", "font-size": 13, "font-weight": "bold",
          "border-width": 3, "border-color": "#222" } },
      { selector: "node:selected, node.hover", style: { label: "data(label)" } },
      { selector: "edge", style: {
          width: 1.2, "line-color": "#adb5bd", "target-arrow-color": "#adb5bd",
          "target-arrow-shape": "triangle", "curve-style": big ? "haystack" : "bezier",
          "arrow-scale": 0.8, label: big ? "" : "data(label)", "font-size": 8, color: "#666",
          "text-rotation": "autorotate" } },
    ],
    layout: { name: "concentric", concentric: (n) => 10 - n.data("hop"), levelWidth: () => 1,
              minNodeSpacing: big ? 4 : 18, animate: false },
  });
  cy.on("mouseover", "node", (e) => e.target.addClass("hover"));
  cy.on("mouseout", "node", (e) => e.target.removeClass("hover"));
  cy.on("tap", "node", (e) => {
    location.href = "/graph?" + new URLSearchParams({ id: e.target.id(), hops: box.dataset.hops });
  });
  window.explorerGraph = cy;

  const types = [...new Set(view.nodes.map((n) => n.type))].sort();
  document.getElementById("legend").replaceChildren(...types.map((type) => {
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.backgroundColor = colour(type);
    item.append(swatch, type);
    return item;
  }));
  document.getElementById("node-list").replaceChildren(...view.nodes.map((n) => {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = "/entity?id=" + encodeURIComponent(n.id);
    const name = document.createElement("bdi");
    name.textContent = n.name || n.id;
    link.appendChild(name);
    item.append(link, " ", n.type);
    item.dataset.node = n.id;
    return item;
  }));
  const more = view.truncated ? " (the first shown: more are reachable)" : "";
  status.textContent = `${view.nodes.length} nodes, ${view.edges.length} relations${more}`;
  // Drawn once the renderer has painted a frame after the layout.
  requestAnimationFrame(() => requestAnimationFrame(() => {
    performance.mark("graph-drawn");
    box.dataset.drawn = String(cy.nodes().length);
  }));
}
