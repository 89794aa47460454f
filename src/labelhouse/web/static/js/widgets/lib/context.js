// The task data that fields read but do not draw themselves (the text to classify, the
// answer to rate, …), shown once above the fields even when several fields read it.
import { chatBlock, isConversation } from "./chat.js";
import { h, setRendered } from "./dom.js";

/**
 * Data keys listed in fields' `reads`, in schema order, without repeats.
 * @param {object[]} fields schema fields
 * @returns {string[]}
 */
export function contextKeys(fields) {
  const keys = [];
  for (const f of fields) for (const k of f.reads || []) if (!keys.includes(k)) keys.push(k);
  return keys;
}

/**
 * Draw the task's context data into `container`.
 * @param {HTMLElement} container
 * @param {{fields: object[], task: object, rendered?: object}} options `rendered` is the
 *   API's per-field display HTML; a field's `rendered.data[key]` (Markdown) wins over text
 * @returns {number} how many keys were shown
 */
export function mountContext(container, { fields, task, rendered = {} }) {
  container.replaceChildren();
  const keys = contextKeys(fields);
  for (const key of keys) {
    const value = task.data ? task.data[key] : undefined;
    if (value === undefined || value === null) continue;
    let html;
    for (const f of fields) html = html ?? rendered?.[f.name]?.data?.[key];
    const body = h("div", { class: "lh-context-value" });
    if (typeof value === "string") setRendered(body, html, value);
    else if (isConversation(value)) body.append(chatBlock(value, html));
    else body.append(h("pre", { class: "lh-plain", text: JSON.stringify(value, null, 2) }));
    container.append(h("div", { class: "lh-context-item", dataset: { key } }, h("div", { class: "lh-context-key muted", text: key }), body));
  }
  container.hidden = container.childElementCount === 0;
  return container.childElementCount;
}
