// Edit: the annotator rewrites a model reply in place (a demonstration). The text box
// starts with the original reply (`field.source`, or a message of the conversation
// there with `field.message`); "Differences" (D) shows a word diff original → edited,
// "Use the original" (O) answers "keep the reply as it is". Value sent: {text}; the server
// stores it with the diff ({text, changed, original_sha256, ops}, see kinds/edit.py).
import { sourceText } from "./lib/chat.js";
import { wordDiff } from "./lib/diff.js";
import { displayRoot, notAnswered } from "./lib/display.js";
import { h, isPlain, kbd, setRendered, uid } from "./lib/dom.js";
import { editSummary, editValue, finalText } from "./lib/edit.js";

/**
 * Keys this widget handles, for the `?` overlay.
 * @returns {Array<[string, string]>}
 */
export function keyHelp() {
  return [
    ["Enter", "start editing the reply"], ["Escape", "leave the text box (keys work again)"],
    ["D", "show or hide the differences from the original"], ["O", "use the original reply unchanged"],
  ];
}

/** The reply being edited, or "" when the task lacks it. */
const originalOf = (field, task) => sourceText(task, field.source || "response", field.message) ?? "";

/** A word diff drawn with `<del>`/`<ins>` (text only). */
function diffView(original, text) {
  const tag = { same: "span", removed: "del", added: "ins" };
  return h("div", { class: "lh-edit-diff lh-plain", role: "region", "aria-label": "Changes: struck out removed, underlined added" },
    ...wordDiff(original, text).map((o) => h(tag[o.op] || "span", { class: `lh-diff-${o.op}`, text: o.text })));
}

/**
 * Mount an edit widget. Value: {text} once the annotator edited or kept the reply, else null.
 * @param {HTMLElement} container
 * @param {{field: object, task: object, rendered?: object, value?: object|null, readOnly?: boolean, onChange?: Function}} options
 * @returns {{getValue: Function, setValue: Function, handleKey: Function, focus: Function, destroy: Function}}
 */
export function mount(container, { field, task, rendered, value = null, readOnly = false, onChange = () => {} }) {
  const original = originalOf(field, task);
  const statusId = uid("lh-edit");
  const before = h("details", { class: "lh-edit-original" }, h("summary", { text: "Original reply" }), h("div", { class: "lh-response-body" }));
  setRendered(before.lastChild, rendered?.original, original);
  const area = h("textarea", {
    class: "lh-textarea lh-edit-area", rows: Math.min(16, Math.max(4, original.split("\n").length + 1)),
    "aria-label": field.title || field.name, "aria-describedby": statusId, readonly: readOnly, spellcheck: "true",
  });
  const status = h("span", { class: "lh-edit-status muted", id: statusId, "aria-live": "polite" });
  const diffToggle = h("button", { type: "button", class: "lh-diff-toggle", "aria-pressed": "false", "aria-keyshortcuts": "d" }, kbd("D"), " Differences");
  const keep = h("button", { type: "button", class: "lh-edit-keep", disabled: readOnly, "aria-keyshortcuts": "o" }, kbd("O"), " Use the original");
  const diffSlot = h("div", { class: "lh-edit-diffslot" });
  const root = h("div", { class: "lh-edit" }, before, area, h("div", { class: "lh-edit-tools" }, keep, diffToggle, status), diffSlot);
  container.append(root);

  let answered = false;
  let showDiff = false;
  function paint() {
    status.textContent = answered ? editSummary(original, area.value).summary : "Not answered yet: edit the reply, or use the original";
    diffSlot.replaceChildren(...(showDiff ? [diffView(original, area.value)] : []));
    diffToggle.setAttribute("aria-pressed", String(showDiff));
  }
  const read = () => (answered ? editValue(area.value) : null);
  area.addEventListener("input", () => { answered = true; paint(); onChange(read()); });
  keep.addEventListener("click", () => useOriginal());
  diffToggle.addEventListener("click", () => { showDiff = !showDiff; paint(); });
  function useOriginal() {
    if (readOnly) return;
    area.value = original;
    answered = true;
    paint();
    onChange(read());
  }
  function set(v) {
    const text = finalText(v);
    answered = text !== null;
    area.value = text ?? original;
    paint();
  }
  set(value);

  return {
    getValue: read,
    setValue: set,
    handleKey(event) {
      if (!isPlain(event)) return false;
      const key = event.key.toLowerCase();
      if (key === "d") { showDiff = !showDiff; paint(); return true; }
      if (readOnly) return false;
      if (event.key === "Enter") { area.focus(); return true; }
      if (key === "o") { useOriginal(); return true; }
      return false;
    },
    focus() { area.focus({ preventScroll: true }); },
    destroy() { root.remove(); },
  };
}

/**
 * Draw a stored answer read-only: the edited reply as text with the changes from the
 * original marked (struck out / underlined), or "unchanged".
 * @param {HTMLElement} container
 * @param {{field: object, task: object, value: object|null}} options
 * @returns {{root: HTMLElement, destroy: Function}}
 */
export function display(container, { field, task, value }) {
  const text = finalText(value);
  if (text === null) return displayRoot(container, "edit", notAnswered());
  const original = sourceText(task, field.source || "response", field.message);
  if (original === null) return displayRoot(container, "edit", h("div", { class: "lh-d-text-body lh-plain", text }));
  const { summary } = editSummary(original, text);
  return displayRoot(container, "edit", h("p", { class: "lh-edit-status muted", text: summary }),
    original === text ? h("div", { class: "lh-d-text-body lh-plain", text }) : diffView(original, text));
}

/**
 * A word diff between two revisions' edited texts, shown inline.
 * @param {object} field
 * @param {object|null} before
 * @param {object|null} after
 * @returns {{inline: boolean, items: Array<{op: string, text: string}>}}
 */
export function changes(field, before, after) {
  return { inline: true, items: wordDiff(finalText(before), finalText(after)) };
}
