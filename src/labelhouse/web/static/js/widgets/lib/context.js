// The task data that fields read but do not draw themselves (the text to classify, the
// answer to rate, …), shown once above the fields even when several fields read it.
import { chatBlock, isConversation } from "./chat.js";
import { h, setRendered } from "./dom.js";

/**
 * Data keys listed in fields' `reads`, in schema order, without repeats; with `prompts`,
 * the `prompt` keys of pairwise/ranking fields too (pages that show answers without the
 * widgets, which draw their own prompt on the annotate page; only conversations are shown).
 * @param {object[]} fields schema fields
 * @param {{prompts?: boolean}} [options]
 * @returns {string[]}
 */
export function contextKeys(fields, { prompts = false } = {}) {
  const keys = [];
  for (const f of fields) {
    const own = [...(f.reads || []), ...(prompts && "responses" in f && f.prompt !== null ? [f.prompt ?? "prompt"] : [])];
    for (const k of own) if (!keys.includes(k)) keys.push(k);
  }
  return keys;
}

/**
 * Draw the task's context data into `container`.
 * @param {HTMLElement} container
 * @param {{fields: object[], task: object, rendered?: object, prompts?: boolean}} options
 *   `rendered` is the API's per-field display HTML; a field's `rendered.data[key]`
 *   (Markdown, a chat) wins over text; `prompts`: show pairwise/ranking prompts too
 * @returns {number} how many keys were shown
 */
export function mountContext(container, { fields, task, rendered = {}, prompts = false }) {
  container.replaceChildren();
  const keys = contextKeys(fields, { prompts });
  const read = contextKeys(fields);
  for (const key of keys) {
    const value = task.data ? task.data[key] : undefined;
    if (value === undefined || value === null) continue;
    if (!read.includes(key) && !isConversation(value)) continue; // text prompts: as before
    let html;
    for (const f of fields) html = html ?? rendered?.[f.name]?.data?.[key];
    for (const f of fields) if (f.prompt === key) html = html ?? rendered?.[f.name]?.conversation ?? rendered?.[f.name]?.prompt;
    const body = h("div", { class: "lh-context-value" });
    if (typeof value === "string") setRendered(body, html, value);
    else if (isConversation(value)) body.append(chatBlock(value, html));
    else body.append(h("pre", { class: "lh-plain", text: JSON.stringify(value, null, 2) }));
    container.append(h("div", { class: "lh-context-item", dataset: { key } }, h("div", { class: "lh-context-key muted", text: key }), body));
  }
  container.hidden = container.childElementCount === 0;
  return container.childElementCount;
}
