// The review page's additions: which answers were resubmitted after a rejection (and why
// that earlier revision was rejected), and the questions on the task, with unread counts
// (read when the reviewer opens them).
import { CommentThreads } from "./comments.js";
import { h } from "./widgets/lib/dom.js";

export class ReviewFeedback {
  /** @param {HTMLElement} root the #rv-feedback container (in review.html) */
  constructor(root) {
    this.resubmitted = root.querySelector(".fb-resubmissions");
    this.details = root.querySelector("details.fb-comments");
    this.count = this.details.querySelector(".fb-count");
    this.threads = new CommentThreads(this.details.querySelector(".fb-thread-root"), {
      onUnread: (n) => { this.count.textContent = n ? `${n} unread` : ""; this.count.hidden = !n; },
    });
    this.details.addEventListener("toggle", () => { if (this.details.open) this.threads.markRead(); });
    // The review page's keys (A, R, C, N) stay out of the comment boxes.
    this.details.addEventListener("keydown", (event) => { if (event.key !== "Escape") event.stopPropagation(); });
  }

  /** A review item is on screen (or none). @param {object} item /review/next answer */
  show(item) {
    const task = item?.task;
    const again = (task?.annotations || []).filter((a) => a.resubmitted_after);
    this.resubmitted.replaceChildren(...again.map((a) => h("p", { class: "fb-resubmitted" },
      h("strong", { text: a.annotator_email || `Annotation #${a.id}` }),
      ` resubmitted this answer after a rejection (revision ${a.revision}; revision ${a.resubmitted_after.revision} was rejected`,
      a.resubmitted_after.reason ? ": " : ")",
      a.resubmitted_after.reason ? h("q", { text: a.resubmitted_after.reason }) : null,
      a.resubmitted_after.reason ? ")." : ".")));
    this.resubmitted.hidden = again.length === 0;
    this.details.hidden = !task;
    if (!task) return;
    this.details.open = false;
    this.threads.load(task.id);
  }
}
