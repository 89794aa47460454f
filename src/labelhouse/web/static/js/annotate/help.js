// The `?` overlay: every key of the page and of the current task's fields, in one list.
import { h, keyName } from "../widgets/lib/dom.js";

/** Keys of the page itself (the fields add their own). */
export const PAGE_KEYS = [
  ["Ctrl+Enter", "submit and show the next task"],
  ["Ctrl+S", "skip this task (asks first: 1–9 pick a reason, Tab a note, Enter skips)"],
  ["Ctrl+Z", "undo (Ctrl+Shift+Z: redo)"],
  ["Alt+ArrowDown", "next field (Alt+↑: previous)"],
  ["Tab", "next control (Shift+Tab: previous)"],
  ["?", "show or hide this list"],
  ["H", "my submissions"],
  ["I", "show or hide the instructions"],
  ["Escape", "leave a text box, close this list"],
];

function rows(entries) {
  return h("dl", { class: "an-keys" }, ...entries.flatMap(([key, text]) => [
    h("dt", {}, ...key.split(/(?<=.)\+(?=.)/).flatMap((k, i) => (i ? ["+", h("kbd", { text: keyName(k) })] : [h("kbd", { text: keyName(k) })]))),
    h("dd", { text }),
  ]));
}

/**
 * Fill and open the key overlay.
 * @param {HTMLDialogElement} dialog
 * @param {Array<{field: object, module: object}>} fields the mounted fields, in order
 */
export function openHelp(dialog, fields) {
  const body = dialog.querySelector(".an-help-body");
  const sections = [h("section", {}, h("h3", { text: "Page" }), rows(PAGE_KEYS))];
  fields.forEach(({ field, module }, i) => {
    const entries = module.keyHelp ? module.keyHelp(field) : [];
    if (entries.length) sections.push(h("section", {}, h("h3", { text: `${i + 1}. ${field.title || field.name} (${field.kind})` }), rows(entries)));
  });
  body.replaceChildren(...sections);
  if (!dialog.open) dialog.showModal();
}
