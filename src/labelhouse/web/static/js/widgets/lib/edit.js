// Pure logic of the edit widget (rewriting a model reply): the value it sends and a short
// account of what changed. The server recomputes the stored diff (kinds/edit.py); this
// only drives what the annotator sees. Tested with `node --test`.
import { wordDiff } from "./diff.js";

/**
 * The value to send for a final text: `{text}` (the server adds `changed`, `ops` and
 * `original_sha256`).
 * @param {string} text
 * @returns {{text: string}}
 */
export function editValue(text) {
  return { text: String(text) };
}

/**
 * The final text of a stored or sent value, or null.
 * @param {*} value
 * @returns {string|null}
 */
export function finalText(value) {
  if (typeof value === "string") return value;
  return value && typeof value === "object" && typeof value.text === "string" ? value.text : null;
}

/**
 * How a final text differs from the original, in words the annotator reads.
 * @param {string} original
 * @param {string} text
 * @returns {{changed: boolean, removed: number, added: number, summary: string}}
 *   `removed`/`added`: words (not spaces or punctuation) only in one of them
 */
export function editSummary(original, text) {
  const ops = wordDiff(original, text);
  const words = (s) => (s.match(/[\p{L}\p{N}_'’]+/gu) || []).length;
  let removed = 0;
  let added = 0;
  for (const o of ops) {
    if (o.op === "removed") removed += words(o.text);
    if (o.op === "added") added += words(o.text);
  }
  const changed = original !== text;
  const summary = !changed ? "Unchanged from the original"
    : removed || added ? `Edited: ${added} word${added === 1 ? "" : "s"} added, ${removed} removed`
      : "Edited: spacing or punctuation only";
  return { changed, removed, added, summary };
}
