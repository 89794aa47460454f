// Conversations and the edit widget: reading message text as the server does, the value
// an edit sends, its change summary, and the pairwise diff between the drawn sides.
import assert from "node:assert/strict";
import { test } from "node:test";

import { isConversation, messageText, sourceText } from "../../src/labelhouse/web/static/js/widgets/lib/chat.js";
import { editSummary, editValue, finalText } from "../../src/labelhouse/web/static/js/widgets/lib/edit.js";
import { sideDiff, sides } from "../../src/labelhouse/web/static/js/widgets/pairwise.js";

const CHAT = [
  { role: "system", content: "Be brief." },
  { role: "user", content: [{ type: "text", text: "a" }, { type: "text", text: "b" }] },
  { role: "assistant", content: "Hello 😀 there" },
];

test("a conversation is a list whose first item has a role", () => {
  assert.equal(isConversation(CHAT), true);
  assert.equal(isConversation([]), false);
  assert.equal(isConversation("text"), false);
  assert.equal(isConversation([{ text: "x" }]), false);
  assert.equal(isConversation([null]), false);
});

test("message text joins text parts with a blank line, like the server", () => {
  assert.equal(messageText(CHAT[1]), "a\n\nb");
  assert.equal(messageText({ role: "assistant", content: null }), "");
  assert.equal(messageText({ role: "user", content: [{ type: "image_url" }, { type: "text", text: "x" }] }), "x");
});

test("source text: a string key, or one message counted from either end", () => {
  const task = { data: { chat: CHAT, text: "plain" } };
  assert.equal(sourceText(task, "text", null), "plain");
  assert.equal(sourceText(task, "chat", undefined), null);
  assert.equal(sourceText(task, "chat", -1), "Hello 😀 there");
  assert.equal(sourceText(task, "chat", 1), "a\n\nb");
  assert.equal(sourceText(task, "chat", 3), null);
  assert.equal(sourceText(task, "chat", -4), null);
  assert.equal(sourceText(task, "text", 0), null);
});

test("the edit value is the final text; stored values give it back", () => {
  assert.deepEqual(editValue("x"), { text: "x" });
  assert.equal(finalText({ text: "y", changed: true, ops: [] }), "y");
  assert.equal(finalText("z"), "z");
  assert.equal(finalText(null), null);
  assert.equal(finalText({ text: null }), null);
});

test("the edit summary counts words added and removed", () => {
  assert.deepEqual(editSummary("same", "same"), { changed: false, removed: 0, added: 0, summary: "Unchanged from the original" });
  const s = editSummary("The capital is Lyon.", "The capital city is Paris.");
  assert.equal(s.changed, true);
  assert.equal(s.added, 2);
  assert.equal(s.removed, 1);
  assert.equal(s.summary, "Edited: 2 words added, 1 removed");
  assert.equal(editSummary("Hi.", "Hi!").summary, "Edited: spacing or punctuation only");
});

test("the pairwise diff goes from the left response to the right one", () => {
  const field = { name: "pref", responses: "candidates" };
  const task = { id: 7, data: { candidates: [{ role: "assistant", content: "one two" }, "one three"] } };
  const [left] = sides(field, task);
  const ops = sideDiff(field, task);
  const removed = ops.filter((o) => o.op === "removed").map((o) => o.text).join("");
  const added = ops.filter((o) => o.op === "added").map((o) => o.text).join("");
  assert.equal(removed, left === 0 ? "two" : "three");
  assert.equal(added, left === 0 ? "three" : "two");
});
