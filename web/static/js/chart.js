// A horizontal bar chart as inline SVG (no library): one bar per label, on a 0..max scale.
const NS = "http://www.w3.org/2000/svg";

function el(name, attrs = {}, text = null) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== null) node.textContent = text;
  return node;
}

/**
 * @param {{label: string, value: number|null, emphasis?: boolean}[]} rows
 * @param {{max?: number, title?: string}} options
 */
export function barChart(rows, { max = 100, title = "" } = {}) {
  const labelW = 150;
  const barW = 360;
  const rowH = 30;
  const top = 10;
  const width = labelW + barW + 60;
  const height = top + rows.length * rowH + 28;
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title });
  svg.append(el("title", {}, title));
  // grid lines and ticks every 20%
  for (let i = 0; i <= 5; i += 1) {
    const x = labelW + (barW * i) / 5;
    svg.append(el("line", { x1: x, x2: x, y1: top - 4, y2: top + rows.length * rowH, stroke: "#dde1e8" }));
    svg.append(el("text", { x, y: height - 8, "text-anchor": "middle", fill: "#5b6478" }, String((max * i) / 5)));
  }
  rows.forEach((row, i) => {
    const y = top + i * rowH;
    svg.append(el("text", { x: labelW - 8, y: y + 19, "text-anchor": "end", "font-weight": row.emphasis ? 700 : 400 }, row.label));
    const value = typeof row.value === "number" ? Math.max(0, Math.min(max, row.value)) : null;
    const w = value === null ? 0 : (barW * value) / max;
    const color = row.emphasis ? "#1f5fbf" : value !== null && value < max * 0.5 ? "#c77d0a" : "#3b8a5a";
    const bar = el("rect", { x: labelW, y: y + 5, width: w, height: rowH - 12, rx: 3, fill: color });
    bar.dataset.value = value === null ? "" : String(value);
    bar.classList.add("bar");
    svg.append(bar);
    svg.append(el("text", { x: labelW + w + 6, y: y + 19 }, value === null ? "–" : String(Math.round(value))));
  });
  return svg;
}
