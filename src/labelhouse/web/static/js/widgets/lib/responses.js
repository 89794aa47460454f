// Reading a task's prompt and responses (shared by the pairwise and ranking widgets), the
// same way the server's kinds/_responses.py does.
import { chatBlock, isConversation, messageText } from "./chat.js";
import { h, setRendered } from "./dom.js";

/**
 * The text of each response in the task's order (strings, or objects with `text`/`content`).
 * @param {object} field schema field with `responses` (and optional `prompt`) data keys
 * @param {object} task
 * @returns {string[]}
 */
export function responseTexts(field, task) {
  const raw = task.data?.[field.responses || "responses"];
  if (!Array.isArray(raw)) return [];
  return raw.map((r) => (typeof r === "string" ? r : typeof r?.text === "string" ? r.text : messageText(r)));
}

/**
 * The prompt block (sanitized Markdown from the server, else plain text), or null. A
 * prompt that is a conversation is drawn as a chat (`rendered.conversation`).
 * @param {object} field
 * @param {object} task
 * @param {object|undefined} rendered the field's `rendered` entry from the API
 * @returns {HTMLElement|null}
 */
export function promptBlock(field, task, rendered) {
  const key = field.prompt === undefined ? "prompt" : field.prompt;
  const text = key ? task.data?.[key] : null;
  if (isConversation(text)) {
    return h("div", { class: "lh-prompt lh-prompt-chat" }, h("div", { class: "lh-prompt-label muted", text: "Conversation" }), chatBlock(text, rendered?.conversation));
  }
  if (typeof text !== "string") return null;
  const body = h("div", { class: "lh-prompt-body" });
  setRendered(body, rendered?.prompt, text);
  return h("div", { class: "lh-prompt" }, h("div", { class: "lh-prompt-label muted", text: "Prompt" }), body);
}

/**
 * Whether a response was written by a model for Labelhouse (models in the loop stores
 * such candidates as {text, model, generated: true}); the model itself is not named, so
 * the comparison stays blind.
 * @param {object} field
 * @param {object} task
 * @param {number} index
 * @returns {boolean}
 */
export function isGenerated(field, task, index) {
  const raw = task.data?.[field.responses || "responses"];
  return Array.isArray(raw) && raw[index]?.generated === true;
}

/**
 * The body of one response (sanitized Markdown from the server, else plain text), with a
 * "model-generated" note above a candidate a model wrote.
 * @param {string} text
 * @param {string|undefined} html
 * @param {boolean} [generated]
 * @returns {HTMLElement}
 */
export function responseBody(text, html, generated = false) {
  const body = h("div", { class: "lh-response-body" });
  setRendered(body, html, text);
  if (generated) body.prepend(h("p", { class: "lh-generated muted small", text: "model-generated" }));
  return body;
}
