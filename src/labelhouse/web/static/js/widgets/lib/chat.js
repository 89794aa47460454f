// Conversations in task data (kinds/conversation.py): a list of chat messages
// {role, content} where content is a string or text parts [{type: "text", text}]. The
// server renders the chat (sanitized HTML in `rendered`); these helpers read message text
// the same way the server does (spans and edit fields work on one message) and draw a
// plain-text chat when no HTML came. Pure except `chatBlock`.
import { h, setRendered } from "./dom.js";

const ROLE_NAMES = { system: "System prompt", user: "User", assistant: "Assistant", tool: "Tool" };

/**
 * Whether a data value is a conversation: a non-empty list whose first item has a role.
 * @param {*} value
 * @returns {boolean}
 */
export function isConversation(value) {
  return Array.isArray(value) && value.length > 0 && value[0] !== null && typeof value[0] === "object" && "role" in value[0];
}

/**
 * A message's text: its content string, or its text parts joined by a blank line.
 * @param {{content?: string|Array<{type: string, text: string}>|null}} message
 * @returns {string}
 */
export function messageText(message) {
  const content = message?.content;
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.filter((p) => p?.type === "text" && typeof p.text === "string").map((p) => p.text).join("\n\n");
  return "";
}

/**
 * The text a field works on: `data[key]` when it is a string, or with `message` set, that
 * message of the conversation there (negative counts from the end). Null when missing.
 * @param {object} task
 * @param {string} key
 * @param {number|null|undefined} message
 * @returns {string|null}
 */
export function sourceText(task, key, message) {
  const value = task?.data?.[key];
  if (message === null || message === undefined) return typeof value === "string" ? value : null;
  if (!isConversation(value)) return null;
  const i = message < 0 ? value.length + message : message;
  return i >= 0 && i < value.length ? messageText(value[i]) : null;
}

/**
 * A conversation drawn as a chat: the server's sanitized HTML when given, else each
 * message's role and text as plain text.
 * @param {Array<object>} messages
 * @param {string|undefined} html
 * @returns {HTMLElement}
 */
export function chatBlock(messages, html) {
  const box = h("div", { class: "lh-chat-box" });
  if (typeof html === "string") {
    setRendered(box, html, "");
    return box;
  }
  const chat = h("div", { class: "lh-chat" });
  messages.forEach((m, i) => {
    const role = ROLE_NAMES[m?.role] ? m.role : "user";
    chat.append(h("section", { class: `lh-msg lh-msg-${role}`, dataset: { role, index: String(i) } },
      h("div", { class: "lh-msg-role", text: ROLE_NAMES[role] }),
      h("div", { class: "lh-msg-body lh-plain", text: messageText(m) })));
  });
  box.append(chat);
  return box;
}
