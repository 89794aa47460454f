// Pieces shared by the widgets' display mode (`display()`: a stored answer drawn read-only
// on the review, task and history pages) and their revision diffs (`changes()`).
// Text goes in with textContent only.
import { h } from "./dom.js";

export const PALETTE = ["#e07a5f", "#3d85c6", "#81b29a", "#f2cc8f", "#9b5de5", "#f15bb5", "#00bbf9", "#8d99ae"];

/**
 * How a field's labels/options look: the colour and the human name of a stored value (an
 * option removed from the schema since keeps its value as its name). Pure.
 * @param {Array<{value: string, label?: string, color?: string}>} options
 * @param {string[]} [palette] colours of options without their own, by position
 * @returns {{colorOf: (v: string) => string, nameOf: (v: string) => string, known: (v: string) => boolean}}
 */
export function optionStyle(options, palette = PALETTE) {
  const index = (v) => options.findIndex((o) => o.value === v);
  return {
    colorOf: (v) => options[index(v)]?.color || palette[Math.max(0, index(v)) % palette.length],
    nameOf: (v) => {
      const o = options[index(v)];
      return o ? o.label || o.value : String(v);
    },
    known: (v) => index(v) >= 0,
  };
}

/**
 * A value this task cannot draw (e.g. ranks for more responses than it has now): said as
 * such, with the stored value as text.
 * @param {string} why
 * @param {*} value
 * @returns {HTMLElement}
 */
export function undrawable(why, value) {
  return h("span", { class: "lh-d-raw", text: `${why}: ${JSON.stringify(value)}` });
}

/** The muted "not answered" mark of an empty value. */
export function notAnswered() {
  return h("span", { class: "lh-d-none muted", text: "not answered" });
}

/**
 * The root element of one display, appended to `container`, and the handle `display()`
 * returns.
 * @param {HTMLElement} container
 * @param {string} kind
 * @param {...(Node|string|null)} children
 * @returns {{root: HTMLElement, destroy: () => void}}
 */
export function displayRoot(container, kind, ...children) {
  const root = h("div", { class: `lh-display lh-d-${kind}`, dataset: { kind } }, ...children);
  container.append(root);
  return { root, destroy() { root.remove(); } };
}

/**
 * One option shown by its label, with its colour; `title` carries its description.
 * @param {Array<object>} options the field's options
 * @param {string} value a stored option value
 * @param {{differs?: boolean}} [opts]
 * @returns {HTMLElement}
 */
export function optionChip(options, value, { differs = false } = {}) {
  const style = optionStyle(options);
  const option = options.find((o) => o.value === value);
  const chip = h("span", {
    class: `lh-d-option${differs ? " is-differs" : ""}${style.known(value) ? "" : " is-unknown"}`,
    dataset: { value: String(value) },
    title: option?.description || (style.known(value) ? null : "not an option of the current schema"),
  }, h("span", { class: "lh-swatch", "aria-hidden": "true" }), ` ${style.nameOf(value)}`);
  chip.style.setProperty("--mark", style.colorOf(value));
  return chip;
}

/**
 * Draw what `changes()` returned: inline runs (text diffs) or one line per change.
 * @param {HTMLElement} container
 * @param {{inline: boolean, items: Array<{op: "same"|"added"|"removed"|"changed", text: string}>}} diff
 * @returns {HTMLElement}
 */
export function changeView(container, { inline, items }) {
  const tag = { added: "ins", removed: "del", changed: "span", same: "span" };
  const sign = { added: "+", removed: "−", changed: "~", same: "" };
  const say = { added: "added", removed: "removed", changed: "changed", same: "" };
  let root;
  if (!items.length) root = h("p", { class: "lh-changes muted", text: "no change" });
  else if (inline) {
    root = h("p", { class: "lh-changes is-inline" },
      ...items.map((c) => h(tag[c.op], { class: `lh-change is-${c.op}`, text: c.text })));
  } else {
    root = h("ul", { class: "lh-changes" }, ...items.map((c) => h("li", { class: `lh-change is-${c.op}`, dataset: { op: c.op } },
      h("span", { class: "lh-change-sign", "aria-hidden": "true", text: sign[c.op] }),
      h("span", { class: "sr-only", text: `${say[c.op]}: ` }),
      h(tag[c.op], { text: c.text }))));
  }
  container.append(root);
  return root;
}

/**
 * Changes of a value that is one thing (a choice, a rating, a verdict): the old one
 * removed, the new one added, each described by `describe`.
 * @param {*} before
 * @param {*} after
 * @param {(v: *) => string} describe
 * @returns {{inline: false, items: Array<{op: string, text: string}>}}
 */
export function replaced(before, after, describe) {
  const items = [];
  if (before !== null && before !== undefined) items.push({ op: "removed", text: describe(before) });
  if (after !== null && after !== undefined) items.push({ op: "added", text: describe(after) });
  return { inline: false, items };
}
