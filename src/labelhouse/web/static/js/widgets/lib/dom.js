// Tiny DOM helpers shared by the widgets. Text always goes in through textContent; there is
// deliberately no way to pass HTML here (only server-sanitized HTML may use innerHTML, and
// widgets do that explicitly, in one visible place each).

let counter = 0;

/**
 * Create an element.
 * @param {string} tag
 * @param {object} [attrs] `class`, `text` (textContent), `dataset` (object), `on` (event →
 *   handler), `hidden`; anything else becomes an attribute (never `style`: CSP forbids it).
 * @param {...(Node|string|null|undefined|false)} children strings become text nodes
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "on") for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
    else if (key === "hidden") el.hidden = Boolean(value);
    else if (key === "style") throw new Error("no style attributes (CSP); set el.style in JS");
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return el;
}

/**
 * A `<kbd>` showing a key the user can press (e.g. "1", "A", "Ctrl+Enter").
 * @param {string} key
 * @returns {HTMLElement}
 */
export function kbd(key) {
  return h("kbd", { text: keyName(key) });
}

/**
 * A `<kbd>` that screen readers skip (the control it sits in announces the key through
 * `aria-keyshortcuts` instead, so "1 Positive" is read as "Positive").
 * @param {string} key
 * @returns {HTMLElement}
 */
export function hiddenKbd(key) {
  const el = kbd(key);
  el.setAttribute("aria-hidden", "true");
  return el;
}

/**
 * How a key is written in the UI: letters upper-case, named keys spelled out.
 * @param {string} key a KeyboardEvent.key value or a combination like "Ctrl+Enter"
 * @returns {string}
 */
export function keyName(key) {
  if (key.includes("+") && key.length > 1) return key.split("+").map(keyName).join("+");
  const names = { " ": "Space", ArrowUp: "↑", ArrowDown: "↓", ArrowLeft: "←", ArrowRight: "→", Escape: "Esc" };
  if (names[key]) return names[key];
  return key.length === 1 ? key.toUpperCase() : key;
}

/**
 * A page-unique id for aria wiring (label ↔ control).
 * @param {string} prefix
 * @returns {string}
 */
export function uid(prefix = "lh") {
  counter += 1;
  return `${prefix}-${counter}`;
}

/**
 * Whether a key event's target is a place where the user types text, so hotkeys must not
 * fire (radio buttons, checkboxes and buttons are not: keys still work there).
 * @param {EventTarget|null} target
 * @returns {boolean}
 */
export function isTyping(target) {
  if (!target || !(target instanceof Element)) return false;
  if (target.isContentEditable) return true;
  if (target.tagName === "TEXTAREA" || target.tagName === "SELECT") return true;
  if (target.tagName !== "INPUT") return false;
  const type = (target.getAttribute("type") || "text").toLowerCase();
  return !["radio", "checkbox", "button", "submit", "reset", "range", "color", "file"].includes(type);
}

/**
 * True for a key press without Ctrl, Alt or Meta (Shift allowed: "?" needs it).
 * @param {KeyboardEvent} event
 * @returns {boolean}
 */
export function isPlain(event) {
  return !event.ctrlKey && !event.metaKey && !event.altKey;
}

/**
 * Put server-sanitized HTML (from the API's `rendered`) into an element, or — when there is
 * none — the raw text as text. The only way widgets show task Markdown.
 * @param {HTMLElement} el
 * @param {string|undefined|null} html sanitized by the server (labelhouse.markdown.render)
 * @param {string} fallbackText untrusted text, shown verbatim
 */
export function setRendered(el, html, fallbackText) {
  if (typeof html === "string") {
    el.classList.add("lh-markdown");
    el.innerHTML = html; // sanitized on the server with nh3; never built from task data here
  } else {
    el.classList.add("lh-plain");
    el.textContent = fallbackText ?? "";
  }
}

/**
 * Deep copy of a JSON value (values move between widgets, the undo stack and drafts).
 * @template T
 * @param {T} value
 * @returns {T}
 */
export function clone(value) {
  return value === undefined ? null : JSON.parse(JSON.stringify(value));
}

/**
 * One option of a choice group: a labelled radio or checkbox with its key cap, optional
 * description (linked for screen readers) and colour. Shared by the choice and choices widgets.
 * @param {object} option schema option {value, label?, description?, color?}
 * @param {{type: "radio"|"checkbox", name?: string, key?: string, readOnly: boolean, onChange: (checked: boolean) => void}} opts
 * @returns {HTMLInputElement} the input (its parent is the label element)
 */
export function optionInput(option, { type, name, key, readOnly, onChange }) {
  const id = uid("lh-opt");
  const input = h("input", { type, name: name || null, id, value: option.value, disabled: readOnly, "aria-keyshortcuts": key || null });
  input.addEventListener("change", () => onChange(input.checked));
  const descId = option.description ? uid("lh-desc") : null;
  if (descId) input.setAttribute("aria-describedby", descId);
  const label = h(
    "label",
    { class: "lh-option", for: id },
    input,
    key ? hiddenKbd(key) : h("span", { class: "lh-nokey" }),
    h("span", { class: "lh-option-text" },
      h("span", { class: "lh-option-label", text: option.label || option.value }),
      descId ? h("span", { class: "lh-option-desc muted", id: descId, "aria-hidden": "true", text: option.description }) : null),
  );
  if (option.color) label.style.setProperty("--option-color", option.color);
  return input;
}
