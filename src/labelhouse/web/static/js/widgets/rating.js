// Rating: a whole number on the field's scale, with the rubric text of every point visible.
// Small scales are a radio group of cards; scales over 11 points are a slider. Keys: type
// the number (several digits for 10 and up), ←/→ step down/up, click works too.
import { displayRoot, notAnswered, replaced } from "./lib/display.js";
import { h, isPlain, kbd, uid } from "./lib/dom.js";
import { typeNumber } from "./lib/keys.js";

const MAX_CARDS = 11;
const BUFFER_MS = 900; // pause after which a new digit starts a new number

/**
 * Whether one key press completes an answer (single-digit scales), so the annotate page
 * may move on to the next field.
 * @param {object} field
 * @returns {boolean}
 */
export function advancesOnKey(field) {
  return (field.min ?? 1) >= 0 && (field.max ?? 5) <= 9;
}

/**
 * Keys this widget handles, for the `?` overlay.
 * @param {object} field schema field (kind "rating")
 * @returns {Array<[string, string]>}
 */
export function keyHelp(field) {
  const min = field.min ?? 1;
  const max = field.max ?? 5;
  return [[`${min}…${max}`, max > 9 ? "type the rating (e.g. 1 then 0 for 10)" : "rate"], ["←/→", "one point lower / higher"]];
}

/**
 * Mount a rating widget. Value: an integer on the scale, or null.
 * @param {HTMLElement} container
 * @param {{field: object, value?: number|null, readOnly?: boolean, onChange?: Function}} options
 * @returns {{getValue: Function, setValue: Function, handleKey: Function, focus: Function, destroy: Function}}
 */
export function mount(container, { field, value = null, readOnly = false, onChange = () => {} }) {
  const min = field.min ?? 1;
  const max = field.max ?? 5;
  const rubric = field.rubric || {};
  const points = Array.from({ length: max - min + 1 }, (_, i) => min + i);
  let current = null;
  let buffer = "";
  let bufferTimer = 0;
  const root = h("div", { class: "lh-rating" });
  container.append(root);
  const paintFns = [];

  if (points.length <= MAX_CARDS) {
    const name = uid("lh-rating");
    const group = h("div", { class: "lh-rating-points", role: "radiogroup", "aria-label": field.title || field.name });
    for (const n of points) {
      const id = uid("lh-pt");
      const text = rubric[String(n)];
      const input = h("input", {
        type: "radio", name, id, value: String(n), disabled: readOnly,
        "aria-label": text ? `${n}: ${text}` : String(n), "aria-keyshortcuts": n >= 0 && n <= 9 ? String(n) : null,
      });
      input.addEventListener("change", () => { if (input.checked) set(n, true); });
      const card = h("label", { class: "lh-point", for: id },
        input,
        h("span", { class: "lh-point-head", "aria-hidden": "true" }, n >= 0 && n <= 9 ? kbd(String(n)) : h("span", { class: "lh-point-num", text: String(n) })),
        h("span", { class: "lh-point-rubric", "aria-hidden": "true", text: text || "" }));
      group.append(card);
      paintFns.push(() => { input.checked = current === n; card.classList.toggle("is-selected", current === n); });
    }
    root.append(group);
  } else {
    const id = uid("lh-range");
    const slider = h("input", { type: "range", id, min, max, step: 1, disabled: readOnly, "aria-label": field.title || field.name });
    const output = h("output", { class: "lh-rating-output", for: id });
    slider.addEventListener("input", () => set(Number(slider.value), true));
    const described = points.filter((n) => rubric[String(n)]);
    root.append(h("div", { class: "lh-rating-slider" }, slider, output));
    if (described.length) {
      root.append(h("dl", { class: "lh-rubric" }, ...described.flatMap((n) => [h("dt", { text: String(n) }), h("dd", { text: rubric[String(n)] })])));
    }
    paintFns.push(() => {
      slider.value = String(current ?? Math.round((min + max) / 2));
      slider.classList.toggle("is-unset", current === null);
      output.textContent = current === null ? "not rated" : String(current);
    });
  }

  function set(n, notify) {
    const next = Number.isInteger(n) && n >= min && n <= max ? n : null;
    const changed = next !== current;
    current = next;
    paintFns.forEach((fn) => fn());
    const checked = root.querySelector("input:checked");
    if (checked && root.contains(document.activeElement)) checked.focus({ preventScroll: true });
    if (notify && changed) onChange(current);
  }
  set(value, false);

  return {
    getValue: () => current,
    setValue: (v) => set(v, false),
    handleKey(event) {
      if (readOnly || !isPlain(event)) return false;
      if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
        const step = event.key === "ArrowLeft" ? -1 : 1;
        set(current === null ? (step > 0 ? min : max) : Math.min(max, Math.max(min, current + step)), true);
        return true;
      }
      if (event.key === "-" && min < 0) { buffer = "-"; return true; }
      if (!/^[0-9]$/.test(event.key)) return false;
      clearTimeout(bufferTimer);
      const typed = typeNumber(buffer, event.key, min, max);
      buffer = typed.buffer;
      bufferTimer = setTimeout(() => { buffer = ""; }, BUFFER_MS);
      if (typed.value !== null) set(typed.value, true);
      return true;
    },
    focus() { (root.querySelector("input:checked") || root.querySelector("input"))?.focus({ preventScroll: true }); },
    destroy() { clearTimeout(bufferTimer); root.remove(); },
  };
}

/**
 * A rating as words: the point and its rubric text ("4 · Good"). Pure.
 * @param {object} field
 * @param {number} value
 * @returns {string}
 */
export function ratingText(field, value) {
  const text = (field.rubric || {})[String(value)];
  return text ? `${value} · ${text}` : String(value);
}

/**
 * Draw a stored answer read-only: the scale with the chosen point marked (scales up to
 * 11 points), the point, the scale's range and the point's rubric text.
 * @param {HTMLElement} container
 * @param {{field: object, value: number|null}} options
 * @returns {{root: HTMLElement, destroy: Function}}
 */
export function display(container, { field, value }) {
  if (!Number.isInteger(value)) return displayRoot(container, "rating", notAnswered());
  const min = field.min ?? 1;
  const max = field.max ?? 5;
  const text = (field.rubric || {})[String(value)];
  const scale = max - min + 1 <= MAX_CARDS
    ? h("ol", { class: "lh-d-scale", "aria-hidden": "true" }, ...Array.from({ length: max - min + 1 }, (_, i) => {
      const n = min + i;
      return h("li", { class: n === value ? "is-selected" : "", dataset: { point: String(n) }, text: String(n) });
    }))
    : null;
  return displayRoot(container, "rating", scale,
    h("p", { class: "lh-d-rating-value" },
      h("strong", { class: "lh-d-point", text: String(value) }),
      h("span", { class: "muted", text: ` on ${min}–${max}` }),
      text ? h("span", { class: "lh-d-rubric", text: ` · ${text}` }) : null));
}

/**
 * The old and the new rating with their rubric texts (a revision diff).
 * @param {object} field
 * @param {number|null} before
 * @param {number|null} after
 * @returns {{inline: boolean, items: Array<{op: string, text: string}>}}
 */
export function changes(field, before, after) {
  return replaced(before, after, (v) => ratingText(field, v));
}
