// Questions and answers on a task, for the annotate, review and task pages: the threads the
// server lets this person read (an annotator: their own; the lab: every annotator's and its
// notes), a box to write in each thread they may write in, and the unread count, cleared
// when the comments are shown. Comment bodies are plain text: always textContent.
import { api } from "./api.js";
import { h } from "./widgets/lib/dom.js";

const when = (iso) => new Date(iso).toLocaleString([], { dateStyle: "short", timeStyle: "short" });

/**
 * Group comments by thread, in the order the threads are given, then any other thread the
 * comments name (the lab reads threads it may no longer write in, e.g. of someone removed).
 * @param {Array<{thread: number|null}>} items
 * @param {Array<{user_id: number|null, label: string}>} threads writable threads
 * @returns {Array<{key: number|null, label: string|null, writable: boolean, items: object[]}>}
 */
export function groupThreads(items, threads) {
  const groups = new Map();
  for (const t of threads) groups.set(t.user_id, { key: t.user_id, label: t.label, writable: true, items: [] });
  for (const c of items) {
    if (!groups.has(c.thread)) groups.set(c.thread, { key: c.thread, label: null, writable: false, items: [] });
    groups.get(c.thread).items.push(c);
  }
  return [...groups.values()];
}

/** The comments of one task, rendered into `root`. */
export class CommentThreads {
  /**
   * @param {HTMLElement} root where the threads go (replaced on every render)
   * @param {{onUnread?: (n: number) => void, compact?: boolean}} [options] `onUnread` hears
   *   the task's unread count; `compact`: only threads with comments or the person's own
   */
  constructor(root, { onUnread = () => {}, compact = false } = {}) {
    this.root = root;
    this.onUnread = onUnread;
    this.compact = compact;
    this.taskId = null;
    this.data = null;
    this.drafts = new Map(); // thread key -> text being written (kept across re-renders)
  }

  /** Load (or reload) a task's comments. @param {number} taskId */
  async load(taskId) {
    this.taskId = taskId;
    try {
      const data = await api("GET", `/api/tasks/${taskId}/comments`);
      if (this.taskId !== taskId) return;
      this.data = data;
      this.render();
      this.onUnread(data.unread);
    } catch (error) {
      if (this.taskId !== taskId) return;
      this.root.replaceChildren(h("p", { class: "error", text: `Could not load the comments: ${error.message}` }));
    }
  }

  /** Mark everything shown as read (the comments are on screen). */
  async markRead() {
    const data = this.data;
    if (!data || !data.unread) return;
    const last = Math.max(...data.items.map((c) => c.id));
    try {
      const answer = await api("POST", `/api/tasks/${data.task_id}/comments/read`, { up_to: last });
      if (this.data !== data) return;
      data.unread = answer.unread;
      for (const c of data.items) if (c.id <= last) c.unread = false;
      this.render();
      this.onUnread(answer.unread);
    } catch { /* offline: they stay unread, and are marked next time */ }
  }

  render() {
    const data = this.data;
    let groups = groupThreads(data.items, data.threads);
    if (this.compact) groups = groups.filter((g) => g.items.length || g.label === "Your questions");
    const nodes = groups.map((g) => this.thread(g));
    if (!nodes.length) nodes.push(h("p", { class: "muted", text: "No comments on this task." }));
    this.root.replaceChildren(...nodes);
  }

  thread(group) {
    const title = group.label ?? (group.key === null ? "Lab notes" : `Thread of #${group.key}`);
    const list = h("ol", { class: "fb-comment-list" }, ...group.items.map((c) => h(
      "li",
      { class: `fb-comment${c.mine ? " is-mine" : ""}${c.unread ? " is-unread" : ""}`, dataset: { comment: String(c.id) } },
      h("p", { class: "fb-comment-meta small muted" },
        h("strong", { text: c.author }), ` · ${when(c.created_at)}`,
        c.unread ? h("span", { class: "badge fb-new", text: "new" }) : null),
      h("p", { class: "fb-comment-body", text: c.body }),
    )));
    const section = h("section", { class: "fb-thread", dataset: { thread: group.key === null ? "notes" : String(group.key) } },
      h("h3", { class: "fb-thread-title", text: title }),
      group.items.length ? list : h("p", { class: "muted small", text: "Nothing written yet." }));
    if (group.writable) section.append(this.form(group));
    return section;
  }

  form(group) {
    const key = group.key;
    const own = group.label === "Your questions";
    const label = own ? "Ask a question about this task" : key === null ? "Add a lab note" : `Answer ${group.label}`;
    const id = `fb-write-${this.taskId}-${key ?? "notes"}`;
    const text = h("textarea", { id, name: "body", rows: "2", maxlength: "4000", required: true });
    text.value = this.drafts.get(key) || "";
    text.addEventListener("input", () => this.drafts.set(key, text.value));
    const status = h("p", { class: "fb-form-status small", role: "status" });
    const form = h("form", { class: "fb-write" },
      h("label", { for: id, text: label }), text,
      h("div", { class: "fb-write-actions" }, h("button", { type: "submit", text: own ? "Ask" : key === null ? "Add note" : "Send answer" }), status));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = text.value.trim();
      if (!body) { status.textContent = "Write something first."; return; }
      form.querySelector("button").disabled = true;
      try {
        await api("POST", `/api/tasks/${this.taskId}/comments`, key === null ? { body } : { body, thread: key });
        this.drafts.delete(key);
        await this.load(this.taskId);
      } catch (error) {
        status.textContent = `Not sent: ${error.message}`;
        form.querySelector("button").disabled = false;
      }
    });
    // Ctrl+Enter sends, as elsewhere; the annotate page's keys stay out of the textarea.
    text.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); event.stopPropagation(); form.requestSubmit(); }
    });
    return form;
  }
}
