// "My submissions": the tasks this user submitted in the project, newest first, each
// opening in the annotate page for editing (a new submission keeps the old as a revision).
import { api } from "../api.js";
import { h } from "../widgets/lib/dom.js";
import { showMyAnswer } from "./my-answer.js";

const PAGE = 100;

function snippet(data) {
  const text = Object.values(data || {}).filter((v) => typeof v === "string").join(" · ") || JSON.stringify(data);
  return text.length > 90 ? `${text.slice(0, 89)}…` : text;
}

/** The side panel listing my tasks; `onOpen(taskId)` opens one. */
export class HistoryPanel {
  /**
   * @param {HTMLElement} panel the panel element (holds an `ol` and a `.an-history-more` button)
   * @param {{projectId: number, userId: number, onOpen: (id: number) => void, schema?: () => object,
   *   decorate?: (list: HTMLElement, tasks: object[]) => void}} options
   *   `schema`: the project's current schema, to draw an entry's answer with; `decorate`
   *   adds to the rendered entries (review badges: annotate/feedback.js)
   */
  constructor(panel, { projectId, userId, onOpen, schema = () => null, decorate }) {
    this.panel = panel;
    this.list = panel.querySelector("ol");
    this.more = panel.querySelector(".an-history-more");
    this.note = panel.querySelector(".an-history-note");
    // Tasks with a submission of mine (for every role: reviewers see all tasks otherwise).
    this.url = `/api/projects/${projectId}/tasks?limit=${PAGE}&annotator=${userId}`;
    this.onOpen = onOpen;
    this.userId = userId;
    this.schema = schema;
    this.decorate = decorate;
    this.cursor = null;
    this.items = [];
    this.current = null;
    this.more.addEventListener("click", () => this.load(true));
  }

  /** @returns {boolean} whether the panel is showing */
  get open() { return !this.panel.hidden; }

  /** Show or hide; showing (re)loads the list. */
  toggle(show = this.panel.hidden) {
    this.panel.hidden = !show;
    if (show) this.load(false);
  }

  /** Mark the task on screen. @param {number|null} taskId */
  setCurrent(taskId) {
    this.current = taskId;
    for (const li of this.list.children) li.classList.toggle("is-current", Number(li.dataset.task) === taskId);
  }

  async load(more) {
    const url = more && this.cursor ? `${this.url}&cursor=${this.cursor}` : this.url;
    this.note.textContent = "Loading…";
    try {
      const page = await api("GET", url);
      this.items = more ? [...this.items, ...page.items] : page.items;
      this.cursor = page.next_cursor;
      this.render();
      this.note.textContent = this.items.length ? "" : "Nothing yet: tasks you submit appear here.";
    } catch (error) {
      this.note.textContent = `Could not load your tasks: ${error.message}`;
    }
  }

  render() {
    const newest = [...this.items].sort((a, b) => b.id - a.id);
    this.list.replaceChildren(...newest.map((t) => {
      const open = h("button", { type: "button", class: "an-history-open" },
        h("span", { class: "an-history-id", text: `#${t.id}${t.external_id ? ` · ${t.external_id}` : ""}` }),
        h("span", { class: "an-history-snippet muted", text: snippet(t.data) }));
      open.addEventListener("click", () => this.onOpen(t.id));
      const answer = h("details", { class: "an-history-answer" }, h("summary", { text: "My answer" }));
      answer.addEventListener("toggle", () => {
        if (answer.open) showMyAnswer(answer, t, { schema: this.schema(), userId: this.userId });
      });
      return h("li", { dataset: { task: String(t.id) }, class: t.id === this.current ? "is-current" : "" }, open, answer);
    }));
    this.more.hidden = !this.cursor;
    this.decorate?.(this.list, newest);
  }
}
