// The skip confirmation: the project's skip reasons (radio buttons, keys 1–9) and a note in
// the annotator's own words, both optional, except that a reason ending in "(write it)"
// needs the note (the server checks the same: projects/skip_reasons.py). Enter skips,
// Escape keeps working. The page (annotate.js) sends what `body()` returns.

export const WRITE_IT = "(write it)";

/**
 * Whether a reason asks the annotator to write why.
 * @param {string|null|undefined} reason
 * @returns {boolean}
 */
export function needsNote(reason) {
  return Boolean(reason) && reason.trim().toLowerCase().endsWith(WRITE_IT);
}

/**
 * The body of `POST /api/tasks/{id}/skip` for a chosen reason and note, or the problem to
 * show instead. Empty parts are left out (a skip without a reason is fine).
 * @param {string|null|undefined} reason
 * @param {string|null|undefined} note
 * @returns {{body: {reason?: string, note?: string}} | {problem: string}}
 */
export function skipBody(reason, note) {
  const r = (reason || "").trim();
  const n = (note || "").trim();
  if (needsNote(r) && !n) return { problem: `“${r}” needs a few words: write why you skip this task.` };
  const body = {};
  if (r) body.reason = r;
  if (n) body.note = n;
  return { body };
}

/**
 * Which reason a key picks: "1" the first, … "9" the ninth; -1 for any other key.
 * @param {string} key
 * @param {number} count how many reasons there are
 * @returns {number}
 */
export function reasonForKey(key, count) {
  const i = /^[1-9]$/.test(key) ? Number(key) - 1 : -1;
  return i < count ? i : -1;
}

/** The confirmation box (`#an-skip-confirm`, with `_skip_reasons.html` inside it). */
export class SkipDialog {
  /** @param {HTMLElement} root */
  constructor(root) {
    this.root = root;
    this.radios = [...root.querySelectorAll("input[name=an-skip-reason]")];
    this.note = root.querySelector("input[name=an-skip-note]");
    this.error = root.querySelector(".an-skip-error");
    this.skipButton = root.querySelector("button.an-confirm-skip");
    this.cancelButton = root.querySelector("button.an-confirm-cancel");
    for (const radio of this.radios) radio.addEventListener("change", () => this.say(""));
    this.note.addEventListener("input", () => this.say(""));
  }

  get open() {
    return !this.root.hidden;
  }

  /** Open it with nothing chosen, the first reason (or the Skip button) focused. */
  show() {
    for (const radio of this.radios) radio.checked = false;
    this.note.value = "";
    this.say("");
    this.root.hidden = false;
    (this.radios[0] || this.skipButton).focus();
  }

  hide() {
    this.root.hidden = true;
  }

  say(text) {
    this.error.textContent = text;
    this.error.hidden = !text;
  }

  /** @returns {string} the chosen reason, or "" */
  get reason() {
    return this.radios.find((r) => r.checked)?.value || "";
  }

  /**
   * What to send, or null after showing why not (the note is then focused).
   * @returns {{reason?: string, note?: string}|null}
   */
  body() {
    const out = skipBody(this.reason, this.note.value);
    if ("problem" in out) {
      this.say(out.problem);
      this.note.focus();
      return null;
    }
    return out.body;
  }

  /**
   * A key pressed while the box is open.
   * @param {KeyboardEvent} event
   * @returns {"skip"|"cancel"|"handled"|null} what the page should do (null: leave the
   *   key to the browser: Tab, arrows between reasons, typing the note)
   */
  key(event) {
    if (event.key === "Escape") return "cancel";
    if (event.ctrlKey || event.metaKey || event.altKey) return null;
    if (event.key === "Enter") return event.target === this.cancelButton ? "cancel" : "skip";
    if (event.target === this.note) return null; // typing
    const i = reasonForKey(event.key, this.radios.length);
    if (i < 0) return null;
    this.radios[i].checked = true;
    this.say("");
    (needsNote(this.radios[i].value) ? this.note : this.radios[i]).focus();
    return "handled";
  }
}
