// Free text: a labelled textarea with a live character count. While it has focus, keys
// type text (hotkeys are off); Esc leaves it, Enter (when the field is active) enters it.
import { wordDiff } from "./lib/diff.js";
import { displayRoot, notAnswered } from "./lib/display.js";
import { h, isPlain, uid } from "./lib/dom.js";

const UNLIMITED = 100000; // the kind's default max_length: not worth showing

/**
 * Keys this widget handles, for the `?` overlay.
 * @returns {Array<[string, string]>}
 */
export function keyHelp() {
  return [["Enter", "start typing in the text box"], ["Escape", "leave the text box (keys work again)"]];
}

/** Characters as the server counts them (code points, not UTF-16 units). */
const length = (text) => [...text].length;

/**
 * Mount a free-text widget. Value: the text exactly as typed, or null when empty.
 * @param {HTMLElement} container
 * @param {{field: object, value?: string|null, readOnly?: boolean, onChange?: Function}} options
 * @returns {{getValue: Function, setValue: Function, handleKey: Function, focus: Function, destroy: Function}}
 */
export function mount(container, { field, value = null, readOnly = false, onChange = () => {} }) {
  const countId = uid("lh-count");
  const max = field.max_length ?? UNLIMITED;
  const min = field.min_length ?? 0;
  const area = h("textarea", {
    class: "lh-textarea",
    rows: 4,
    "aria-label": field.title || field.name,
    "aria-describedby": countId,
    placeholder: field.placeholder || (readOnly ? null : "Type here… (Esc to leave)"),
    readonly: readOnly,
    spellcheck: "true",
  });
  const count = h("span", { class: "lh-count muted", id: countId });
  const alert = h("span", { class: "sr-only", "aria-live": "polite" });
  const rules = [];
  if (min > 0) rules.push(`at least ${min}`);
  if (max < UNLIMITED) rules.push(`at most ${max.toLocaleString("en")}`);
  const foot = h("div", { class: "lh-text-foot" },
    count,
    rules.length ? h("span", { class: "muted", text: ` · ${rules.join(", ")} characters` }) : null,
    field.markdown ? h("span", { class: "muted", text: " · Markdown allowed" }) : null,
    alert);
  container.append(area, foot);

  let wasOver = false;
  function paint() {
    const n = length(area.value);
    count.textContent = max < UNLIMITED ? `${n.toLocaleString("en")} / ${max.toLocaleString("en")}` : `${n.toLocaleString("en")} characters`;
    const over = n > max;
    const under = n > 0 && n < min;
    count.classList.toggle("is-over", over || under);
    if (over !== wasOver) alert.textContent = over ? `Too long: ${n - max} characters over the limit.` : "";
    wasOver = over;
  }
  area.addEventListener("input", () => { paint(); onChange(area.value === "" ? null : area.value); });
  area.value = typeof value === "string" ? value : "";
  paint();

  return {
    getValue: () => (area.value === "" ? null : area.value),
    setValue(v) { area.value = typeof v === "string" ? v : ""; paint(); },
    handleKey(event) {
      if (readOnly || !isPlain(event) || event.key !== "Enter") return false;
      area.focus();
      return true;
    },
    focus() { area.focus({ preventScroll: true }); },
    destroy() { area.remove(); foot.remove(); },
  };
}

/**
 * Draw a stored answer read-only: the text as typed (line breaks kept, never as HTML).
 * @param {HTMLElement} container
 * @param {{value: string|null}} options
 * @returns {{root: HTMLElement, destroy: Function}}
 */
export function display(container, { value }) {
  return displayRoot(container, "text", typeof value === "string" && value !== ""
    ? h("div", { class: "lh-d-text-body lh-plain", text: value })
    : notAnswered());
}

/**
 * A word-level diff of two stored answers, shown inline.
 * @param {object} field
 * @param {string|null} before
 * @param {string|null} after
 * @returns {{inline: boolean, items: Array<{op: string, text: string}>}}
 */
export function changes(field, before, after) {
  return { inline: true, items: wordDiff(before, after) };
}
