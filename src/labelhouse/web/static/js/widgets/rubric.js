// Rubric: score every criterion of the rubric version the field names (its criteria are
// in `field.criteria`, copied by the server), each on its own scale with the anchor text of
// every point visible, and optionally justify a score in a short text.
// Keys: ↑/↓ move between criteria; a digit scores the current criterion and moves on to the
// next (10 is typed "1" then "0"); ←/→ one point lower / higher; J writes a justification
// (Escape leaves the text box). Tab walks every criterion's points and text boxes too.
// Value: {scores: {criterion: point}, justifications: {criterion: text}} once every
// criterion is scored, else null; the server adds the aggregate and the critical failures.
import { displayRoot, notAnswered, replaced } from "./lib/display.js";
import { h, isPlain, kbd, uid } from "./lib/dom.js";
import { typeNumber } from "./lib/keys.js";

const BUFFER_MS = 900; // pause after which a new digit starts a new number
const MAX_JUSTIFICATION = 2000;

/**
 * Keys this widget handles, for the `?` overlay.
 * @returns {Array<[string, string]>}
 */
export function keyHelp() {
  return [
    ["↑/↓", "previous / next criterion"], ["0…9", "score the criterion (then the next one)"],
    ["←/→", "one point lower / higher"], ["J", "justify the score (Escape to leave the text box)"],
  ];
}

const criteriaOf = (field) => (Array.isArray(field.criteria) ? field.criteria : []);
const passAt = (c) => (Number.isInteger(c.pass_at) ? c.pass_at : c.min + 1);
const anchorOf = (c, n) => (c.anchors || {})[String(n)];
const titleOf = (c) => c.title || c.name;

/**
 * Aggregate as the server computes it (kinds/rubric.py), for the summary line: the weighted
 * mean of the scores normalised to 0–1, the criteria that fail and whether one is critical.
 * Pure; `null` until every criterion is scored.
 * @param {Array<object>} criteria
 * @param {Object<string, number>} scores
 * @returns {{aggregate: number, failed: string[], failedCritical: boolean}|null}
 */
export function aggregate(criteria, scores) {
  if (!criteria.length || criteria.some((c) => !Number.isInteger(scores[c.name]))) return null;
  const weight = (c) => (typeof c.weight === "number" ? c.weight : 1);
  const total = criteria.reduce((sum, c) => sum + weight(c), 0);
  const mean = criteria.reduce((sum, c) => sum + weight(c) * (scores[c.name] - c.min) / (c.max - c.min), 0) / total;
  const failed = criteria.filter((c) => scores[c.name] < passAt(c)).map((c) => c.name);
  return { aggregate: mean, failed, failedCritical: criteria.some((c) => c.critical && failed.includes(c.name)) };
}

/**
 * Mount a rubric widget.
 * @param {HTMLElement} container
 * @param {{field: object, value?: object|null, readOnly?: boolean, onChange?: Function}} options
 * @returns {{getValue: Function, setValue: Function, handleKey: Function, focus: Function, destroy: Function}}
 */
export function mount(container, { field, value = null, readOnly = false, onChange = () => {} }) {
  const criteria = criteriaOf(field);
  const scores = {};
  const notes = {};
  let current = 0;
  let buffer = "";
  let bufferTimer = 0;
  const rows = [];
  const summary = h("p", { class: "lh-rubric-summary", "aria-live": "polite" });
  const root = h("div", { class: "lh-rubric-widget" });
  if (field.rubric_name) root.append(h("p", { class: "muted small", text: `${field.rubric_name} · version ${field.version}` }));
  if (!criteria.length) root.append(h("p", { class: "lh-error", text: "This rubric field has no criteria: save the schema again." }));
  container.append(root);

  criteria.forEach((c, i) => {
    const name = uid("lh-rubric");
    const headId = uid("lh-crit");
    const points = Array.from({ length: c.max - c.min + 1 }, (_, k) => c.min + k);
    const inputs = [];
    const group = h("div", { class: "lh-rating-points", role: "radiogroup", "aria-labelledby": headId });
    for (const n of points) {
      const id = uid("lh-pt");
      const text = anchorOf(c, n);
      const input = h("input", {
        type: "radio", name, id, value: String(n), disabled: readOnly,
        "aria-label": text ? `${n}: ${text}` : String(n), "aria-keyshortcuts": String(n).length === 1 ? String(n) : null,
      });
      input.addEventListener("change", () => { if (input.checked) score(i, n, true); });
      group.append(h("label", { class: "lh-point", for: id, dataset: { point: String(n) } },
        input,
        h("span", { class: "lh-point-head", "aria-hidden": "true" }, kbd(String(n))),
        h("span", { class: "lh-point-rubric", "aria-hidden": "true", text: text || "" })));
      inputs.push(input);
    }
    const note = h("input", {
      type: "text", class: "lh-rubric-note", maxlength: MAX_JUSTIFICATION, readonly: readOnly,
      placeholder: "Why this score? (optional)", "aria-label": `Justification for ${titleOf(c)}`, "aria-keyshortcuts": "j",
    });
    note.addEventListener("input", () => { notes[c.name] = note.value; if (complete()) onChange(currentValue()); });
    const row = h("section", { class: "lh-rubric-criterion", dataset: { criterion: c.name } },
      h("h4", { id: headId, class: "lh-rubric-title" },
        h("span", { text: titleOf(c) }),
        c.critical ? h("span", { class: "badge flag", text: "critical" }) : null,
        h("span", { class: "muted small", text: c.scale === "pass_fail" ? " pass / fail" : ` ${c.min}–${c.max}` })),
      c.description ? h("p", { class: "muted small", text: c.description }) : null,
      group, note);
    row.addEventListener("focusin", () => { if (current !== i) { current = i; paint(); } });
    row.addEventListener("click", () => { if (current !== i) { current = i; paint(); } });
    root.append(row);
    rows.push({ row, inputs, note, points });
  });
  root.append(summary);

  const complete = () => criteria.length > 0 && criteria.every((c) => Number.isInteger(scores[c.name]));
  function currentValue() {
    if (!complete()) return null;
    const justifications = {};
    for (const c of criteria) if (notes[c.name]) justifications[c.name] = notes[c.name];
    return { scores: { ...scores }, justifications };
  }

  function paint() {
    criteria.forEach((c, i) => {
      const { row, inputs, note, points } = rows[i];
      row.classList.toggle("is-current", i === current);
      row.classList.toggle("is-failing", Number.isInteger(scores[c.name]) && scores[c.name] < passAt(c));
      inputs.forEach((input, k) => {
        input.checked = scores[c.name] === points[k];
        input.closest("label").classList.toggle("is-selected", input.checked);
      });
      if (note.value !== (notes[c.name] || "")) note.value = notes[c.name] || "";
    });
    const done = criteria.filter((c) => Number.isInteger(scores[c.name])).length;
    const agg = aggregate(criteria, scores);
    summary.textContent = agg === null
      ? `${done} of ${criteria.length} criteria scored`
      : `Score ${Math.round(agg.aggregate * 100)}%` + (agg.failedCritical ? " · fails a critical criterion" : "") +
        (agg.failed.length ? ` · failing: ${agg.failed.join(", ")}` : "");
    summary.classList.toggle("is-failed", Boolean(agg && agg.failedCritical));
  }

  function score(i, n, notify) {
    const c = criteria[i];
    if (!c || !Number.isInteger(n) || n < c.min || n > c.max) return;
    const changed = scores[c.name] !== n;
    scores[c.name] = n;
    current = i;
    paint();
    if (notify && changed) onChange(currentValue());
  }

  function focusCurrent() {
    const entry = rows[current];
    if (!entry) return;
    const target = entry.inputs.find((x) => x.checked) || entry.inputs[0];
    target?.focus({ preventScroll: false });
  }

  function move(step) {
    const next = Math.min(criteria.length - 1, Math.max(0, current + step));
    buffer = "";
    if (next === current) return;
    current = next;
    paint();
    if (root.contains(document.activeElement)) focusCurrent();
    rows[current].row.scrollIntoView?.({ block: "nearest" });
  }

  function setValue(v) {
    for (const key of Object.keys(scores)) delete scores[key];
    for (const key of Object.keys(notes)) delete notes[key];
    if (v && typeof v === "object" && v.scores && typeof v.scores === "object") {
      for (const c of criteria) {
        const n = v.scores[c.name];
        if (Number.isInteger(n) && n >= c.min && n <= c.max) scores[c.name] = n;
        const text = (v.justifications || {})[c.name];
        if (typeof text === "string") notes[c.name] = text;
      }
    }
    paint();
  }
  setValue(value);

  return {
    getValue: currentValue,
    setValue,
    handleKey(event) {
      if (readOnly || !isPlain(event) || !criteria.length) return false;
      const c = criteria[current];
      if (event.key === "ArrowDown" || event.key === "ArrowUp") { move(event.key === "ArrowDown" ? 1 : -1); return true; }
      if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
        const step = event.key === "ArrowLeft" ? -1 : 1;
        const was = scores[c.name];
        score(current, Number.isInteger(was) ? Math.min(c.max, Math.max(c.min, was + step)) : (step > 0 ? c.min : c.max), true);
        if (root.contains(document.activeElement)) focusCurrent();
        return true;
      }
      if (event.key === "j" || event.key === "J") { rows[current].note.focus(); return true; }
      if (!/^[0-9]$/.test(event.key)) return false;
      clearTimeout(bufferTimer);
      const typed = typeNumber(buffer, event.key, c.min, c.max);
      buffer = typed.buffer;
      bufferTimer = setTimeout(() => { buffer = ""; }, BUFFER_MS);
      if (typed.value === null) return true;
      score(current, typed.value, true);
      // Move on unless another digit could still make a longer number on this scale.
      if (Number(`${typed.buffer}0`) > c.max && current < criteria.length - 1) move(1);
      else if (root.contains(document.activeElement)) focusCurrent();
      return true;
    },
    focus() { focusCurrent(); },
    destroy() { clearTimeout(bufferTimer); root.remove(); },
  };
}

/**
 * A score as words: "4 · Mostly answers". Pure.
 * @param {object} c a criterion
 * @param {number} n
 * @returns {string}
 */
export function pointText(c, n) {
  const text = anchorOf(c, n);
  return text ? `${n} · ${text}` : String(n);
}

/**
 * Draw a stored answer read-only: the aggregate and critical failure, then one row per
 * criterion with its score, anchor text and justification.
 * @param {HTMLElement} container
 * @param {{field: object, value: object|null}} options
 * @returns {{root: HTMLElement, destroy: Function}}
 */
export function display(container, { field, value }) {
  if (!value || typeof value !== "object" || !value.scores) return displayRoot(container, "rubric", notAnswered());
  const criteria = criteriaOf(field);
  const agg = typeof value.aggregate === "number" ? value.aggregate : aggregate(criteria, value.scores)?.aggregate;
  const failedCritical = value.failed_critical ?? aggregate(criteria, value.scores)?.failedCritical;
  const head = h("p", { class: "lh-d-rubric-total" },
    h("strong", { text: typeof agg === "number" ? `${Math.round(agg * 100)}%` : "—" }),
    failedCritical ? h("span", { class: "badge flag", text: "failed critical" }) : h("span", { class: "badge ok", text: "passed" }));
  const list = h("dl", { class: "lh-d-rubric-scores" }, ...criteria.flatMap((c) => {
    const n = value.scores[c.name];
    const note = (value.justifications || {})[c.name];
    const failing = Number.isInteger(n) && n < passAt(c);
    return [
      h("dt", { class: failing ? "is-failing" : "", dataset: { criterion: c.name } }, titleOf(c), c.critical ? " (critical)" : ""),
      h("dd", { dataset: { criterion: c.name, score: String(n) } },
        h("span", { class: "lh-d-point", text: Number.isInteger(n) ? pointText(c, n) : "—" }),
        h("span", { class: "muted", text: ` on ${c.min}–${c.max}` }),
        note ? h("span", { class: "lh-d-note", text: ` — ${note}` }) : null),
    ];
  }));
  return displayRoot(container, "rubric", head, list);
}

/**
 * What changed between two answers: each criterion whose score or justification changed.
 * @param {object} field
 * @param {object|null} before
 * @param {object|null} after
 * @returns {{inline: boolean, items: Array<{op: string, text: string}>}}
 */
export function changes(field, before, after) {
  if (!before || !after || !before.scores || !after.scores) {
    const describe = (v) => (v && typeof v.aggregate === "number" ? `score ${Math.round(v.aggregate * 100)}%` : "scored");
    return replaced(before, after, describe);
  }
  const items = [];
  for (const c of criteriaOf(field)) {
    const a = before.scores[c.name];
    const b = after.scores[c.name];
    if (a !== b) items.push({ op: "changed", text: `${titleOf(c)}: ${a ?? "—"} → ${b ?? "—"}` });
    const na = (before.justifications || {})[c.name] || "";
    const nb = (after.justifications || {})[c.name] || "";
    if (na !== nb) items.push({ op: "changed", text: `${titleOf(c)} justification: ${nb || "removed"}` });
  }
  return { inline: false, items };
}
