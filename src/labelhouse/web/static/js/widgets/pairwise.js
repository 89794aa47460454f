// Pairwise preference: the prompt on top, two responses side by side (sanitized Markdown).
// Which response is drawn left is random per task (seeded by the task id, so stable on
// reload) to fight position bias. The screen letters A (left) and B (right) are what the
// annotator presses; the stored value always names the *response*: "A" = responses[0].
import { clip, wordDiff } from "./lib/diff.js";
import { displayRoot, notAnswered, replaced } from "./lib/display.js";
import { h, isPlain, kbd } from "./lib/dom.js";
import { seededOrder } from "./lib/random.js";
import { isGenerated, promptBlock, responseBody, responseTexts } from "./lib/responses.js";

const SIDE_KEYS = ["a", "b"];
const STORED = ["A", "B"]; // response index → stored choice

/**
 * Keys this widget handles, for the `?` overlay.
 * @param {object} field schema field (kind "pairwise")
 * @returns {Array<[string, string]>}
 */
export function keyHelp(field) {
  const out = [["A", "the left response (A) is better"], ["B", "the right response (B) is better"]];
  if (field.allow_tie !== false) out.push(["T", "tie: equally good"]);
  out.push(["D", "show or hide the word differences between A and B"]);
  (field.strengths || []).forEach((s, i) => out.push([String(i + 1), `by how much: ${s}`]));
  return out;
}

/**
 * Which response index is drawn on each side for this task.
 * @param {object} field
 * @param {object} task
 * @returns {number[]} [left response index, right response index]
 */
export function sides(field, task) {
  return seededOrder(2, `${task.id}:${field.name}`);
}

/**
 * A word diff from the left response (A on screen) to the right one (B): what the
 * "Differences" view shows. Pure.
 * @param {object} field
 * @param {object} task
 * @returns {Array<{op: "same"|"removed"|"added", text: string}>}
 */
export function sideDiff(field, task) {
  const texts = responseTexts(field, task);
  const [left, right] = sides(field, task);
  return wordDiff(texts[left] ?? "", texts[right] ?? "");
}

/**
 * The diff view: removed text is only in A (left), added text only in B (right).
 * @param {Array<{op: string, text: string}>} ops
 * @returns {HTMLElement}
 */
function diffView(ops) {
  const tag = { same: "span", removed: "del", added: "ins" };
  return h("div", { class: "lh-pair-diff lh-plain", role: "region", "aria-label": "Differences: struck out only in A, underlined only in B" },
    ...ops.map((o) => h(tag[o.op] || "span", { class: `lh-diff-${o.op}`, text: o.text })));
}

/**
 * Mount a pairwise widget. Value: {choice: "A"|"B"|"tie", strength: string|null} about the
 * task's responses (A = responses[0]), or null before a choice.
 * @param {HTMLElement} container
 * @param {{field: object, task: object, rendered?: object, value?: object|null, readOnly?: boolean, onChange?: Function}} options
 * @returns {{getValue: Function, setValue: Function, handleKey: Function, focus: Function, destroy: Function}}
 */
export function mount(container, { field, task, rendered, value = null, readOnly = false, onChange = () => {} }) {
  const allowTie = field.allow_tie !== false;
  const strengths = field.strengths || [];
  const texts = responseTexts(field, task);
  const order = sides(field, task);
  let choice = null;
  let strength = null;

  const root = h("div", { class: "lh-pair" });
  const prompt = promptBlock(field, task, rendered);
  if (prompt) root.append(prompt);
  const cards = order.map((responseIndex, side) => {
    const letter = STORED[side];
    const pick = h("button", { type: "button", class: "lh-pick", disabled: readOnly, "aria-pressed": "false" },
      kbd(letter), ` ${letter} is better`);
    pick.addEventListener("click", () => choose(STORED[responseIndex]));
    const card = h("article", { class: "lh-response", dataset: { side: side ? "right" : "left", responseIndex: String(responseIndex) } },
      h("header", { class: "lh-response-head" }, h("span", { class: "lh-response-letter", text: letter }), h("span", { class: "muted", text: "Response" })),
      responseBody(texts[responseIndex] ?? "", rendered?.responses?.[responseIndex], isGenerated(field, task, responseIndex)),
      pick);
    return { card, pick, stored: STORED[responseIndex] };
  });
  const tie = allowTie
    ? h("button", { type: "button", class: "lh-pick lh-tie", disabled: readOnly, "aria-pressed": "false" }, kbd("T"), " Tie")
    : null;
  tie?.addEventListener("click", () => choose("tie"));
  root.append(h("div", { class: "lh-pair-cols" }, cards[0].card, cards[1].card));
  if (tie) root.append(h("div", { class: "lh-pair-tie" }, tie));
  // Word differences between the two candidates, on demand (D): near-identical replies
  // are hard to compare by reading them side by side.
  const diffToggle = h("button", { type: "button", class: "lh-diff-toggle", "aria-pressed": "false", "aria-keyshortcuts": "d" }, kbd("D"), " Differences");
  let diffPanel = null;
  function toggleDiff() {
    if (diffPanel) { diffPanel.remove(); diffPanel = null; }
    else { diffPanel = diffView(sideDiff(field, task)); diffToggle.after(diffPanel); }
    diffToggle.setAttribute("aria-pressed", String(Boolean(diffPanel)));
  }
  diffToggle.addEventListener("click", toggleDiff);
  root.append(h("div", { class: "lh-pair-difftools" }, diffToggle));

  const strengthButtons = strengths.map((s, i) => {
    const b = h("button", { type: "button", class: "lh-strength", disabled: readOnly, "aria-pressed": "false" }, kbd(String(i + 1)), ` ${s}`);
    b.addEventListener("click", () => setStrength(s));
    return b;
  });
  const strengthRow = strengths.length
    ? h("div", { class: "lh-pair-strength", role: "group", "aria-label": "How much better?" },
      h("span", { class: "muted", text: field.strength_required ? "How much better? (required)" : "How much better?" }), ...strengthButtons)
    : null;
  if (strengthRow) root.append(strengthRow);
  const summary = h("p", { class: "lh-pair-summary", "aria-live": "polite" });
  root.append(summary);
  container.append(root);

  const read = () => (choice ? { choice, strength: choice === "tie" ? null : strength } : null);
  function paint() {
    for (const c of cards) {
      const on = choice === c.stored;
      c.card.classList.toggle("is-chosen", on);
      c.card.classList.toggle("is-other", Boolean(choice) && choice !== "tie" && !on);
      c.pick.setAttribute("aria-pressed", String(on));
    }
    tie?.setAttribute("aria-pressed", String(choice === "tie"));
    tie?.classList.toggle("is-chosen", choice === "tie");
    if (strengthRow) strengthRow.hidden = !(choice === "A" || choice === "B");
    strengthButtons.forEach((b, i) => b.setAttribute("aria-pressed", String(strength === strengths[i])));
    const side = cards.find((c) => c.stored === choice);
    summary.textContent = !choice ? "" : choice === "tie" ? "Tie"
      : `${STORED[cards.indexOf(side)]} is better${strength ? ` (${strength})` : ""}`;
  }
  function emit() { paint(); onChange(read()); }
  function choose(next) {
    if (readOnly || next === choice) return;
    choice = next;
    if (choice === "tie") strength = null;
    emit();
  }
  function setStrength(s) {
    if (readOnly || !(choice === "A" || choice === "B") || s === strength) return;
    strength = s;
    emit();
  }
  function set(v) {
    const ok = v && typeof v === "object" && ["A", "B", "tie"].includes(v.choice) && (v.choice !== "tie" || allowTie);
    choice = ok ? v.choice : null;
    strength = ok && choice !== "tie" && strengths.includes(v.strength) ? v.strength : null;
    paint();
  }
  set(value);

  return {
    getValue: read,
    setValue: set,
    handleKey(event) {
      if (!isPlain(event)) return false;
      const key = event.key.toLowerCase();
      if (key === "d") { toggleDiff(); return true; }
      if (readOnly) return false;
      const side = SIDE_KEYS.indexOf(key);
      if (side >= 0) { choose(cards[side].stored); return true; }
      if (key === "t" && allowTie) { choose("tie"); return true; }
      const n = Number(key);
      if (/^[1-9]$/.test(key) && n <= strengths.length && (choice === "A" || choice === "B")) {
        setStrength(strengths[n - 1]);
        return true;
      }
      return false;
    },
    focus() { (cards.find((c) => c.stored === choice)?.pick || cards[0].pick).focus({ preventScroll: true }); },
    destroy() { root.remove(); },
  };
}

const isVerdict = (v) => Boolean(v) && typeof v === "object" && ["A", "B", "tie"].includes(v.choice);

/**
 * A stored preference in the words the annotator saw: the screen letter of the chosen
 * side (sides are drawn per task, see {@link sides}) and the strength — "B is better
 * (clearly)", "Tie". Pure.
 * @param {object} field
 * @param {object} task
 * @param {{choice: string, strength?: string|null}|null} value
 * @returns {string}
 */
export function verdict(field, task, value) {
  if (!isVerdict(value)) return "not answered";
  if (value.choice === "tie") return "Tie";
  const side = sides(field, task).indexOf(STORED.indexOf(value.choice));
  return `${STORED[side]} is better${value.strength ? ` (${value.strength})` : ""}`;
}

/**
 * Draw a stored answer read-only: the two responses side by side as the annotator saw
 * them, the chosen one marked with the strength (a tie marks both).
 * @param {HTMLElement} container
 * @param {{field: object, task: object, rendered?: object, value: object|null}} options
 * @returns {{root: HTMLElement, destroy: Function}}
 */
export function display(container, { field, task, rendered, value }) {
  if (!isVerdict(value)) return displayRoot(container, "pairwise", notAnswered());
  const texts = responseTexts(field, task);
  const cards = sides(field, task).map((responseIndex, side) => {
    const chosen = value.choice === STORED[responseIndex];
    const tie = value.choice === "tie";
    const badge = chosen ? `Preferred${value.strength ? ` · ${value.strength}` : ""}` : tie ? "Tie" : "";
    return h("article", {
      class: `lh-response${chosen ? " is-chosen" : tie ? " is-tie" : " is-other"}`,
      dataset: { side: side ? "right" : "left", responseIndex: String(responseIndex) },
      "aria-label": `Response ${STORED[side]}${badge ? `: ${badge.toLowerCase()}` : ""}`,
    },
    h("header", { class: "lh-response-head" },
      h("span", { class: "lh-response-letter", text: STORED[side] }),
      h("span", { class: "muted", text: "Response" }),
      badge ? h("span", { class: "lh-d-verdict", text: badge }) : null),
    responseBody(texts[responseIndex] ?? "", rendered?.responses?.[responseIndex], isGenerated(field, task, responseIndex)));
  });
  return displayRoot(container, "pairwise",
    h("div", { class: "lh-pair-cols" }, ...cards),
    h("p", { class: "lh-pair-summary", text: verdict(field, task, value) }));
}

/**
 * The old and the new verdict, each with the start of the response it prefers.
 * @param {object} field
 * @param {object|null} before
 * @param {object|null} after
 * @param {object} task
 * @returns {{inline: boolean, items: Array<{op: string, text: string}>}}
 */
export function changes(field, before, after, task) {
  const texts = responseTexts(field, task);
  return replaced(isVerdict(before) ? before : null, isVerdict(after) ? after : null, (v) => {
    const text = texts[STORED.indexOf(v.choice)];
    return v.choice === "tie" || text === undefined ? verdict(field, task, v) : `${verdict(field, task, v)}: “${clip(text, 50)}”`;
  });
}
