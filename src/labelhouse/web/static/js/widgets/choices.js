// Multiple choice: a group of checkboxes. Keys toggle options (hotkey, else 1–9); click
// works too. The value lists chosen option values in schema order.
import { diffList, itemsNotIn } from "./lib/diff.js";
import { displayRoot, notAnswered, optionChip, optionStyle } from "./lib/display.js";
import { h, isPlain, optionInput } from "./lib/dom.js";
import { assignKeys, optionForKey } from "./lib/keys.js";

/**
 * Keys this widget handles, for the `?` overlay.
 * @param {object} field schema field (kind "choices")
 * @returns {Array<[string, string]>}
 */
export function keyHelp(field) {
  const keys = assignKeys(field.options);
  return field.options.flatMap((o, i) => (keys[i] ? [[keys[i], `toggle “${o.label || o.value}”`]] : []));
}

/**
 * Mount a multiple-choice widget. Value: a list of option values in schema order; with
 * nothing chosen, null — or [] when the field allows choosing none (`min_selected: 0`),
 * since "none of these" is then an answer.
 * @param {HTMLElement} container
 * @param {{field: object, value?: string[]|null, readOnly?: boolean, onChange?: Function}} options
 * @returns {{getValue: Function, setValue: Function, handleKey: Function, focus: Function, destroy: Function}}
 */
export function mount(container, { field, value = null, readOnly = false, onChange = () => {} }) {
  const keys = assignKeys(field.options);
  const allowNone = field.min_selected === 0;
  const chosen = new Set();
  const inputs = field.options.map((option, i) =>
    optionInput(option, {
      type: "checkbox", key: keys[i], readOnly,
      onChange: (checked) => toggle(option.value, checked),
    }));
  const limits = [];
  if (field.min_selected > 1) limits.push(`at least ${field.min_selected}`);
  if (field.max_selected) limits.push(`at most ${field.max_selected}`);
  const group = h("div", { class: "lh-options", role: "group", "aria-label": field.title || field.name },
    ...inputs.map((input) => input.parentElement));
  const hint = limits.length ? h("p", { class: "lh-hint muted", text: `Choose ${limits.join(" and ")}.` }) : null;
  container.append(group);
  if (hint) container.append(hint);

  const read = () => {
    const list = field.options.filter((o) => chosen.has(o.value)).map((o) => o.value);
    return list.length || allowNone ? list : null;
  };
  function paint() {
    for (const input of inputs) {
      input.checked = chosen.has(input.value);
      input.parentElement.classList.toggle("is-selected", input.checked);
    }
  }
  function toggle(v, on) {
    if (on) chosen.add(v); else chosen.delete(v);
    paint();
    onChange(read());
  }
  function set(v) {
    chosen.clear();
    if (Array.isArray(v)) for (const item of v) if (field.options.some((o) => o.value === item)) chosen.add(item);
    paint();
  }
  set(value);

  return {
    getValue: read,
    setValue: set,
    handleKey(event) {
      if (readOnly || !isPlain(event)) return false;
      const i = optionForKey(keys, event.key);
      if (i < 0) return false;
      const v = field.options[i].value;
      toggle(v, !chosen.has(v));
      return true;
    },
    focus() { inputs[0]?.focus({ preventScroll: true }); },
    destroy() { group.remove(); hint?.remove(); },
  };
}

/**
 * Draw a stored answer read-only: the chosen options by their labels, in schema order;
 * with `compare` (e.g. the most common answer), options it lacks are marked.
 * @param {HTMLElement} container
 * @param {{field: object, value: string[]|null, compare?: string[]|null}} options
 * @returns {{root: HTMLElement, destroy: Function}}
 */
export function display(container, { field, value, compare }) {
  if (!Array.isArray(value)) return displayRoot(container, "choices", notAnswered());
  if (!value.length) return displayRoot(container, "choices", h("span", { class: "lh-d-none muted", text: "none of these" }));
  const extra = compare === undefined ? new Set() : itemsNotIn(value, compare);
  return displayRoot(container, "choices", h("ul", { class: "lh-d-options", "aria-label": field.title || field.name },
    ...value.map((v, i) => h("li", {}, optionChip(field.options, v, { differs: extra.has(i) })))));
}

/**
 * Options ticked and unticked between two stored answers (a revision diff).
 * @param {object} field
 * @param {string[]|null} before
 * @param {string[]|null} after
 * @returns {{inline: boolean, items: Array<{op: string, text: string}>}}
 */
export function changes(field, before, after) {
  const { nameOf } = optionStyle(field.options);
  const d = diffList(before, after);
  const none = (v) => Array.isArray(v) && v.length === 0; // "none of these" is an answer
  const items = [
    ...(none(before) && !none(after) ? [{ op: "removed", text: "none of these" }] : []),
    ...d.removed.map((v) => ({ op: "removed", text: nameOf(v) })),
    ...d.added.map((v) => ({ op: "added", text: nameOf(v) })),
    ...(none(after) && !none(before) ? [{ op: "added", text: "none of these" }] : []),
  ];
  return { inline: false, items };
}
