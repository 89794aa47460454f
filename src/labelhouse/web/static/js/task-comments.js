// The task page's comments: every thread of the task for the lab; they count as read once
// they are on screen (scrolled into view), so the unread count is seen first.
import { CommentThreads } from "./comments.js";

const section = document.getElementById("task-comments");
if (section) {
  const count = section.querySelector(".fb-unread");
  const threads = new CommentThreads(section.querySelector(".fb-thread-root"), {
    onUnread: (n) => { count.textContent = n ? `${n} unread` : ""; count.hidden = !n; },
  });
  let visible = false;
  new IntersectionObserver((entries) => {
    visible = entries.some((e) => e.isIntersecting);
    if (visible) threads.markRead();
  }, { threshold: 1 }).observe(section.querySelector("h2"));
  threads.load(Number(section.dataset.task)).then(() => { if (visible) threads.markRead(); });
}
