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
 * The body of one response (sanitized Markdown from the server, else plain text).
 * @param {string} text
 * @param {string|undefined} html
 * @returns {HTMLElement}
 */
export function responseBody(text, html) {
  const body = h("div", { class: "lh-response-body" });
  setRendered(body, html, text);
  return body;
}
