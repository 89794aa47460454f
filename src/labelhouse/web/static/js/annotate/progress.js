// The progress counter in the annotate page's header: done today, done in this project, and
// left for me. The counts come with every task the server hands out (`progress` in the /next
// answer, also inside submit-and-next), so a submit updates them without another request.

/**
 * The query that asks for the counts, "today" starting at this browser's local midnight.
 * @param {Date} [now]
 * @returns {string} e.g. "progress=1&day_start=2026-12-04T23%3A00%3A00.000Z"
 */
export function progressQuery(now = new Date()) {
  const midnight = new Date(now.getFullYear(), now.getMonth(), now.getDate());
  return `progress=1&day_start=${encodeURIComponent(midnight.toISOString())}`;
}

const number = (n) => Number(n).toLocaleString("en-US");

/**
 * The counter's parts as [label, figure] pairs.
 * @param {{done_today: number, done: number, remaining: number, remaining_capped: boolean}} p
 * @returns {Array<[string, string]>}
 */
export function progressParts(p) {
  return [
    ["Today", number(p.done_today)],
    ["In this project", number(p.done)],
    ["Left for you", `${number(p.remaining)}${p.remaining_capped ? "+" : ""}`],
  ];
}

/**
 * Show the counts (a payload without them, e.g. a reopened submission, leaves them as they are).
 * @param {HTMLElement|null} el
 * @param {object|undefined} progress
 */
export function showProgress(el, progress) {
  if (!el || !progress) return;
  const parts = [];
  for (const [label, figure] of progressParts(progress)) {
    const strong = document.createElement("strong");
    strong.textContent = figure;
    if (parts.length) parts.push(" · ");
    parts.push(`${label} `, strong);
  }
  el.replaceChildren(...parts);
  el.hidden = false;
}
