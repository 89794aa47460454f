// What review and the lab said back, on the annotate page:
// - "Returned to you": answers review rejected or corrected, with the reason, your value and
//   the corrected one; a rejected one opens for fixing (its task is leased to you again) and
//   goes back to review when submitted;
// - badges on "My submissions" (accepted, rejected, corrected, resubmitted);
// - a notice above a task whose answer was returned, with the reason;
// - the questions on the task on screen (ask; the lab answers), with unread counts.
// The page controller (annotate.js) wires it in a few calls; everything else lives here.
import { api } from "../api.js";
import { CommentThreads } from "../comments.js";
import { h } from "../widgets/lib/dom.js";
import { answerView, loadModules } from "../widgets/lib/show.js";

const UNREAD_POLL_MS = 60000;
const OUTCOME_TEXT = { accepted: "accepted", rejected: "rejected", corrected: "corrected", resubmitted: "resubmitted" };
const STATE_TEXT = {
  to_fix: "You can fix it and submit it again: it goes back to review.",
  closed: "Others have answered this task since, so it needs no more answers.",
  corrected: "The reviewer's value is kept as the reviewed answer.",
};

/** A stored value as short text (choice values, lists, ratings; JSON for the rest). */
export function valueText(value) {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value) && value.every((v) => typeof v !== "object" || v === null)) return value.join(", ");
  return JSON.stringify(value);
}

/** `<dl>` of a value per field. @param {object} value @param {Array<{name: string, title?: string}>} fields */
function valueList(value, fields) {
  const names = fields.length ? fields.map((f) => f.name) : Object.keys(value || {});
  const title = (name) => fields.find((f) => f.name === name)?.title || name;
  return h("dl", { class: "fb-value" }, ...names.flatMap((name) => [
    h("dt", { text: title(name) }), h("dd", { text: valueText(value?.[name]) }),
  ]));
}

/**
 * Replace the text of each value with the field widgets' display (spans marked in the text,
 * boxes on the image, pairwise sides, ranking order): the task as this person may see it
 * comes from GET /api/tasks/{id} (a vendor's copy is masked there). On failure the text
 * stays.
 * @param {number} taskId
 * @param {Array<object>} fields
 * @param {Array<[HTMLElement, object]>} slots an element and the value to draw in it
 */
export async function drawValues(taskId, fields, slots) {
  try {
    const [task, modules] = await Promise.all([api("GET", `/api/tasks/${taskId}?render=1`), loadModules(fields)]);
    for (const [el, value] of slots) {
      el.replaceChildren(answerView(fields, modules, { task, rendered: task.rendered, value, className: "fb-value-view" }));
    }
  } catch { /* the text version stays */ }
}

const pending = new WeakMap();
let seen = null;

/** Run `draw` once `el` is on screen (at once where IntersectionObserver is missing). */
function whenSeen(el, draw) {
  if (typeof IntersectionObserver !== "function") { draw(); return; }
  seen ??= new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      seen.unobserve(entry.target);
      pending.get(entry.target)?.();
      pending.delete(entry.target);
    }
  });
  pending.set(el, draw);
  seen.observe(el);
}

export class Feedback {
  /**
   * @param {object} o
   * @param {number} o.projectId
   * @param {() => Array<object>} o.fields the schema's fields (for value labels)
   * @param {(payload: object) => Promise<void>} o.fixing show a task leased again for fixing
   *   (the /fix answer is a /next body)
   * @param {(taskId: number) => void} o.openTask open one of my tasks (edit mode)
   * @param {boolean} [o.showReturned] open the Returned panel at once
   */
  constructor({ projectId, fields, fixing, openTask, showReturned = false }) {
    Object.assign(this, { projectId, fields, fixing, openTask });
    const $ = (id) => document.getElementById(id);
    this.returnedPanel = $("fb-returned");
    this.returnedList = this.returnedPanel.querySelector("ol");
    this.returnedNote = this.returnedPanel.querySelector(".fb-note");
    this.returnedButton = document.querySelector("[data-action=returned]");
    this.questionsPanel = $("fb-questions");
    this.questionsButton = document.querySelector("[data-action=questions]");
    this.elsewhere = this.questionsPanel.querySelector(".fb-elsewhere");
    this.threads = new CommentThreads(this.questionsPanel.querySelector(".fb-thread-root"), {
      onUnread: (n) => this.showUnread(n),
    });
    this.items = [];
    this.task = null;
    this.unread = new Map(); // task id -> unread answers (my threads), refreshed now and then
    this.notice = h("div", { id: "fb-notice", class: "fb-notice", role: "note", hidden: true });
    document.getElementById("an-banner").after(this.notice);
    this.returnedButton.addEventListener("click", () => this.toggleReturned());
    this.questionsButton.addEventListener("click", () => this.toggleQuestions());
    // Typing a question must not trigger the page's keys (Ctrl+S skips, digits label...).
    for (const panel of [this.returnedPanel, this.questionsPanel]) {
      panel.addEventListener("keydown", (event) => { if (event.key !== "Escape") event.stopPropagation(); });
    }
    this.loadReturned(showReturned);
    this.loadUnread();
    // Answers arrive while the annotator works: a cheap poll, not a request per task.
    setInterval(() => { if (document.visibilityState === "visible") this.loadUnread(); }, UNREAD_POLL_MS);
  }

  // -- Returned to you --------------------------------------------------------------------
  async loadReturned(open = false) {
    try {
      const page = await api("GET", `/api/projects/${this.projectId}/returned?limit=200`);
      this.items = page.items;
      this.renderReturned();
      this.setCount(this.returnedButton, page.needs_attention);
      if (open) this.toggleReturned(true);
      this.showNotice();
    } catch (error) {
      this.returnedNote.textContent = `Could not load what was returned to you: ${error.message}`;
    }
  }

  setCount(button, n) {
    const badge = button.querySelector(".fb-count");
    badge.textContent = n ? String(n) : "";
    badge.hidden = !n;
  }

  toggleReturned(show = this.returnedPanel.hidden) {
    this.returnedPanel.hidden = !show;
    if (!show) return;
    this.returnedPanel.scrollIntoView({ block: "nearest" });
    if (this.items.some((i) => !i.seen)) this.markSeen();
  }

  async markSeen() {
    try {
      const answer = await api("POST", `/api/projects/${this.projectId}/returned/seen`, {});
      for (const i of this.items) i.seen = true;
      this.setCount(this.returnedButton, answer.needs_attention);
    } catch { /* shown again next time */ }
  }

  renderReturned() {
    this.returnedNote.textContent = this.items.length ? "" : "Nothing was returned to you in this project.";
    const fields = this.fields();
    this.returnedList.replaceChildren(...this.items.map((item) => {
      const fix = item.state === "to_fix"
        ? h("button", { type: "button", class: "primary fb-fix", text: item.fixing ? "Continue fixing" : "Fix and resubmit" })
        : null;
      fix?.addEventListener("click", () => this.fix(item.task_id, fix));
      const yours = h("div", { class: "fb-value-slot" }, valueList(item.your_value, fields));
      const corrected = item.corrected_value ? h("div", { class: "fb-value-slot" }, valueList(item.corrected_value, fields)) : null;
      const values = h("div", { class: "fb-values" },
        h("div", {}, h("p", { class: "small muted", text: `Your answer (revision ${item.revision})` }), yours),
        corrected ? h("div", {}, h("p", { class: "small muted", text: "Corrected value" }), corrected) : null);
      // Drawn as on the review page once the item is in view (one task fetched per item, not
      // up to 50 at once); the text shows meanwhile.
      whenSeen(values, () => drawValues(item.task_id, fields, [[yours, item.your_value], ...(corrected ? [[corrected, item.corrected_value]] : [])]));
      return h("li", { class: `fb-returned-item is-${item.state}`, dataset: { task: String(item.task_id) } },
        h("p", { class: "fb-returned-head" },
          h("strong", { text: `#${item.task_id}${item.external_id ? ` · ${item.external_id}` : ""}` }), " ",
          h("span", { class: `badge status-${item.outcome}`, text: OUTCOME_TEXT[item.outcome] || item.outcome }),
          h("span", { class: "muted small", text: ` by ${item.reviewer}` })),
        item.reason ? h("blockquote", { class: "fb-reason", text: item.reason }) : null,
        values,
        h("p", { class: "small muted fb-state", text: STATE_TEXT[item.state] || "" }),
        fix);
    }));
  }

  async fix(taskId, button) {
    if (button) button.disabled = true;
    try {
      const payload = await api("POST", `/api/tasks/${taskId}/fix?render=1`);
      await this.fixing(payload);
      this.toggleReturned(false);
      await this.loadReturned();
    } catch (error) {
      this.returnedNote.textContent = `Could not open task #${taskId} to fix it: ${error.message}`;
      await this.loadReturned();
    }
  }

  // -- the task on screen -------------------------------------------------------------------
  /** The page shows another task (or none). @param {object|null} task */
  taskShown(task) {
    this.task = task;
    this.showNotice();
    // The thread is read from the server only when it is looked at (or has news): the
    // annotator's next task must not wait for, or pay for, comments nobody opens.
    if (task && !this.questionsPanel.hidden) this.openThread();
    else this.showUnread(task ? this.unread.get(task.id) || 0 : 0);
  }

  /** A submission was saved: a returned answer submitted again leaves the list. */
  submitted(taskId) {
    if (this.items.some((i) => i.task_id === taskId)) this.loadReturned();
  }

  showNotice() {
    const task = this.task;
    const item = task && this.items.find((i) => i.task_id === task.id);
    if (!item) { this.notice.hidden = true; this.notice.replaceChildren(); return; }
    const what = item.outcome === "rejected" ? "Returned to you: a reviewer rejected your answer" : "A reviewer corrected your answer";
    this.notice.replaceChildren(
      h("strong", { text: what }), item.reason ? ": " : ".",
      item.reason ? h("q", { class: "fb-reason-inline", text: item.reason }) : null,
      item.outcome === "rejected" ? " Fix it and submit it again; it goes back to review." : null);
    this.notice.dataset.outcome = item.outcome;
    this.notice.hidden = false;
  }

  // -- questions ----------------------------------------------------------------------------
  toggleQuestions(show = this.questionsPanel.hidden) {
    this.questionsPanel.hidden = !show;
    if (!show) return;
    this.questionsPanel.scrollIntoView({ block: "nearest" });
    this.openThread();
  }

  /** Show the task's thread; being on screen, it is read. */
  async openThread() {
    const task = this.task;
    if (!task) { this.threads.root.replaceChildren(); return; }
    await this.threads.load(task.id);
    if (this.task !== task) return;
    await this.threads.markRead();
    this.unread.delete(task.id);
    this.loadUnread();
  }

  showUnread(n) {
    const badge = this.questionsButton.querySelector(".fb-count");
    badge.textContent = n ? `${n} new` : "";
    badge.hidden = !n;
  }

  /** Other tasks of mine with unread answers, listed in the Questions panel. */
  async loadUnread() {
    try {
      const unread = await api("GET", `/api/projects/${this.projectId}/comments/unread`);
      this.unread = new Map(unread.items.map((i) => [i.task_id, i.unread]));
      if (this.task && this.questionsPanel.hidden) this.showUnread(this.unread.get(this.task.id) || 0);
      const others = unread.items.filter((i) => i.task_id !== this.task?.id);
      this.elsewhere.replaceChildren(...(others.length ? [
        h("p", { class: "small muted", text: "New answers on other tasks of yours:" }),
        h("ul", {}, ...others.map((i) => {
          const b = h("button", { type: "button", class: "link", text: `#${i.task_id} (${i.unread} new)` });
          b.addEventListener("click", () => this.openTask(i.task_id));
          return h("li", {}, b);
        })),
      ] : []));
    } catch { /* the list is a convenience */ }
  }

  // -- My submissions -----------------------------------------------------------------------
  /** Badge each listed task with what review made of my answer. */
  async decorateHistory(list, tasks) {
    const ids = tasks.map((t) => t.id);
    if (!ids.length) return;
    let items = [];
    try {
      items = (await api("GET", `/api/projects/${this.projectId}/reviewed?tasks=${ids.slice(0, 500).join(",")}`)).items;
    } catch { return; }
    const byTask = new Map(items.map((d) => [d.task_id, d.status]));
    for (const li of list.children) {
      const status = byTask.get(Number(li.dataset.task));
      li.querySelector(".fb-review-badge")?.remove();
      if (!status) continue;
      li.querySelector("button")?.append(h("span", { class: `badge fb-review-badge status-${status}`, text: OUTCOME_TEXT[status] || status }));
    }
  }
}
