// Single choice: a radio group. Keys: each option's hotkey, else 1–9 in order; click works
// too, and arrow keys move within the group as in any radio group (screen readers).
import { displayRoot, notAnswered, optionChip, optionStyle, replaced } from "./lib/display.js";
import { h, isPlain, optionInput, uid } from "./lib/dom.js";
import { assignKeys, optionForKey } from "./lib/keys.js";

/** The annotate page moves to the next field after a key picks an option. */
export const advancesOnKey = true;

/**
 * Keys this widget handles, for the `?` overlay.
 * @param {object} field schema field (kind "choice")
 * @returns {Array<[string, string]>} [key, what it does]
 */
export function keyHelp(field) {
  const keys = assignKeys(field.options);
  return field.options.flatMap((o, i) => (keys[i] ? [[keys[i], `choose “${o.label || o.value}”`]] : []));
}

/**
 * Mount a single-choice widget. Value: the chosen option's `value` string, or null.
 * @param {HTMLElement} container
 * @param {{field: object, value?: string|null, readOnly?: boolean, onChange?: Function}} options
 * @returns {{getValue: Function, setValue: Function, handleKey: Function, focus: Function, destroy: Function}}
 */
export function mount(container, { field, value = null, readOnly = false, onChange = () => {} }) {
  const keys = assignKeys(field.options);
  const name = uid(`lh-choice-${field.name}`);
  let current = null;
  const inputs = field.options.map((option, i) =>
    optionInput(option, {
      type: "radio", name, key: keys[i], readOnly,
      onChange: (checked) => { if (checked) set(option.value, true); },
    }));
  const group = h("div", { class: "lh-options", role: "radiogroup", "aria-label": field.title || field.name },
    ...inputs.map((input) => input.parentElement));
  container.append(group);

  function set(next, notify) {
    const valid = field.options.some((o) => o.value === next) ? next : null;
    const changed = valid !== current;
    current = valid;
    for (const input of inputs) {
      input.checked = input.value === current;
      input.parentElement.classList.toggle("is-selected", input.checked);
    }
    // Keep keyboard focus on the chosen radio, as arrow keys in a radio group would.
    if (group.contains(document.activeElement)) inputs.find((i) => i.checked)?.focus({ preventScroll: true });
    if (notify && changed) onChange(current);
  }
  set(typeof value === "string" ? value : null, false);

  return {
    getValue: () => current,
    setValue: (v) => set(typeof v === "string" ? v : null, false),
    handleKey(event) {
      if (readOnly || !isPlain(event)) return false;
      const i = optionForKey(keys, event.key);
      if (i < 0) return false;
      set(field.options[i].value, true);
      return true;
    },
    focus() {
      (inputs.find((i) => i.checked) || inputs[0])?.focus({ preventScroll: true });
    },
    destroy() { group.remove(); },
  };
}

/**
 * Draw a stored answer read-only: the chosen option by its label (not its value).
 * @param {HTMLElement} container
 * @param {{field: object, value: string|null}} options
 * @returns {{root: HTMLElement, destroy: Function}}
 */
export function display(container, { field, value }) {
  return displayRoot(container, "choice", typeof value === "string" ? optionChip(field.options, value) : notAnswered());
}

/**
 * What changed between two stored answers (a revision diff), by option label.
 * @param {object} field
 * @param {string|null} before
 * @param {string|null} after
 * @returns {{inline: boolean, items: Array<{op: string, text: string}>}}
 */
export function changes(field, before, after) {
  return replaced(before, after, optionStyle(field.options).nameOf);
}
