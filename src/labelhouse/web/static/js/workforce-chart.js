// Workforce comparison charts (web/pages/workforce_comparison.py): one horizontal bar per
// workforce with its interval as a whisker — gold accuracy, and cost per correct label (one
// chart per currency). Drawn from the JSON the page embeds (#workforce-chart-data) into
// every [data-workforce-chart="gold" | "cost"] element. Text only ever goes in through
// textContent and elements through createElementNS: a team name is never parsed as markup.
// No styles are set inline (strict CSP): classes from app.css, SVG presentation attributes.

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 480;
const LEFT = 150; // room for the names
const RIGHT = 64; // room for the value after the bar
const ROW = 26;
const TOP = 8;
const AXIS = 22;
const MAX_NAME = 20;

// A round axis end at or above `value` (1, 2, 2.5 or 5 × 10ⁿ); 1 for nothing to show.
export function niceMax(value) {
  if (!(value > 0) || !Number.isFinite(value)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 2.5, 5, 10]) {
    if (m * magnitude >= value - 1e-12) return m * magnitude;
  }
  return 10 * magnitude;
}

export const shortName = (name) => (name.length > MAX_NAME ? `${name.slice(0, MAX_NAME - 1)}…` : name);

export const percent = (x) => `${(100 * x).toFixed(1)}%`;

export function money(x, currency) {
  const digits = x >= 0.1 ? 2 : 4;
  return `${x.toFixed(digits)}${currency ? ` ${currency}` : ""}`;
}

// Bars of one chart: [{name, value, low, high, label, title}] from the page's rows.
export function goldBars(rows) {
  return rows
    .filter((r) => r.gold.accuracy !== null)
    .map((r) => ({
      name: r.name,
      value: r.gold.accuracy,
      low: r.gold.low,
      high: r.gold.high,
      label: percent(r.gold.accuracy),
      title: `${r.name}: gold accuracy ${percent(r.gold.accuracy)} (95% interval ${percent(r.gold.low)} – ${percent(r.gold.high)}) over ${r.gold.checked} checked answers`,
    }));
}

// Cost bars grouped by currency: Map currency -> bars. A missing upper end (gold interval
// reaching 0) is drawn to the axis end.
export function costBars(rows) {
  const groups = new Map();
  for (const r of rows) {
    const c = r.cost_per_correct;
    if (c.value === null) continue;
    const bars = groups.get(c.currency) || [];
    bars.push({
      name: r.name,
      value: c.value,
      low: c.low,
      high: c.high,
      label: money(c.value, ""),
      title: `${r.name}: ${money(c.value, c.currency)} per correct label (${c.low === null ? "?" : money(c.low, c.currency)} – ${c.high === null ? "no upper bound" : money(c.high, c.currency)})`,
    });
    groups.set(c.currency, bars);
  }
  return groups;
}

// Geometry of a chart: height, the x scale and the ticks, for `bars` on [0, top].
export function layout(bars, top) {
  const plot = WIDTH - LEFT - RIGHT;
  const x = (v) => LEFT + plot * Math.max(0, Math.min(v, top)) / top;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * top);
  return { height: TOP + bars.length * ROW + AXIS, x, ticks };
}

function node(name, attrs = {}, text) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

export function drawChart(bars, { top, label, tick }) {
  const { height, x, ticks } = layout(bars, top);
  const svg = node("svg", { class: "chart", viewBox: `0 0 ${WIDTH} ${height}`, role: "img", "aria-label": label });
  const bottom = TOP + bars.length * ROW;
  for (const t of ticks) {
    svg.append(
      node("line", { class: "grid", x1: x(t), x2: x(t), y1: TOP, y2: bottom }),
      node("text", { class: "axis", x: x(t), y: bottom + 15, "text-anchor": "middle" }, tick(t)),
    );
  }
  bars.forEach((bar, i) => {
    const y = TOP + i * ROW;
    const mid = y + ROW / 2;
    const g = node("g", { class: "bar" });
    g.append(node("title", {}, bar.title));
    g.append(node("rect", { class: "hit", x: 0, y, width: WIDTH, height: ROW }));
    g.append(node("text", { class: "axis", x: LEFT - 8, y: mid + 4, "text-anchor": "end" }, shortName(bar.name)));
    g.append(node("rect", { class: "value", x: LEFT, y: y + 5, width: Math.max(0, x(bar.value) - LEFT), height: ROW - 10, rx: 2 }));
    if (bar.low !== null) {
      const lo = x(bar.low);
      const hi = bar.high === null ? x(top) : x(bar.high);
      const whisker = { stroke: "#1d2330", "stroke-width": 1.5 };
      g.append(
        node("line", { ...whisker, x1: lo, x2: hi, y1: mid, y2: mid }),
        node("line", { ...whisker, x1: lo, x2: lo, y1: mid - 5, y2: mid + 5 }),
        node("line", { ...whisker, x1: hi, x2: hi, y1: mid - 5, y2: mid + 5 }),
      );
    }
    g.append(node("text", { class: "axis", x: WIDTH - RIGHT + 6, y: mid + 4, "text-anchor": "start" }, bar.label));
    svg.append(g);
  });
  svg.append(node("line", { class: "baseline", x1: LEFT, x2: LEFT, y1: TOP, y2: bottom }));
  return svg;
}

function empty(text) {
  const p = document.createElement("p");
  p.className = "muted";
  p.textContent = text;
  return p;
}

export function mount(root = document) {
  const source = root.getElementById("workforce-chart-data");
  if (!source) return;
  const rows = JSON.parse(source.textContent);
  for (const el of root.querySelectorAll('[data-workforce-chart="gold"]')) {
    const bars = goldBars(rows);
    el.replaceChildren(
      bars.length
        ? drawChart(bars, { top: 1, label: "Gold accuracy per workforce with 95% intervals", tick: (t) => `${Math.round(100 * t)}%` })
        : empty("No gold answers yet."),
    );
  }
  for (const el of root.querySelectorAll('[data-workforce-chart="cost"]')) {
    const groups = costBars(rows);
    el.replaceChildren();
    if (!groups.size) el.append(empty("No workforce has both a price and gold answers yet."));
    for (const [currency, bars] of groups) {
      const top = niceMax(Math.max(...bars.map((b) => (b.high !== null ? b.high : b.value))));
      const tick = (t) => (t === 0 ? "0" : money(t, ""));
      if (groups.size > 1) {
        const h = document.createElement("h3");
        h.textContent = currency || "No currency";
        el.append(h);
      }
      el.append(drawChart(bars, { top, label: `Cost per correct label${currency ? ` in ${currency}` : ""}, with intervals`, tick }));
    }
  }
}

if (typeof document !== "undefined") mount();
