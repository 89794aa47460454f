// The review page: asks the review queue for the next finished task, shows every pending
// annotation side by side (values differing from the most common one highlighted) and
// records accept (A), reject with a reason (R) or a correction (C: the field widgets,
// pre-filled with the most common value). N skips to the next task. The task shown is
// leased to this reviewer (renewed while the page is open); skipping gives it up.
import { api, showError } from "./api.js";
import { LeaseKeeper } from "./annotate/lease.js";
import { mountContext } from "./widgets/lib/context.js";
import { h, isTyping } from "./widgets/lib/dom.js";
import { fieldFrame } from "./widgets/lib/frame.js";
import { loadWidget } from "./widgets/lib/load.js";
import { answerView, loadModules } from "./widgets/lib/show.js";
import { ReviewFeedback } from "./review-feedback.js";

const config = JSON.parse(document.getElementById("lh-review-config").textContent);
const PROJECT = config.project.id;
const $ = (id) => document.getElementById(id);
const els = {
  status: $("rv-status"), task: $("rv-task"), title: $("rv-title"), agreement: $("rv-agreement"),
  open: $("rv-open"), context: $("rv-context"), annotations: $("rv-annotations"), actions: $("rv-actions"),
  reject: $("rv-reject"), reason: $("rv-reason"), correct: $("rv-correct"),
  correctFields: $("rv-correct-fields"), errors: $("rv-errors"),
};
const state = { item: null, after: 0, panel: null, widgets: [], busy: false };
const feedback = new ReviewFeedback($("rv-feedback"));

// The shown task's review lease, renewed while the page is visible, so reading a long task
// never lets it be handed to another reviewer. Leaving lets it run out (no beacon: a
// reload is shown the same task again).
const leases = new LeaseKeeper({
  renew: (taskId) => api("POST", `/api/tasks/${taskId}/review/lease/renew`),
  lost: (taskId, error) => {
    if (state.item?.task?.id === taskId) say(error.message, "warn");
  },
  back: () => {},
  ending: (taskId) => state.busy && state.item?.task?.id === taskId,
  csrf: () => "",
  release: null,
});

const fieldsOf = (schema) => (Array.isArray(schema) ? schema : schema?.fields || []);

function say(text, tone = "") {
  els.status.textContent = text;
  els.status.dataset.tone = tone;
  els.status.hidden = !text;
}

/** Every annotation side by side, each value drawn by its field's widget in display mode. */
function renderAnnotations(item, modules) {
  const fields = fieldsOf(item.schema);
  els.annotations.replaceChildren(
    ...item.task.annotations.map((a) =>
      h(
        "article",
        { class: "card rv-annotation", "aria-label": `Annotation by ${a.annotator_email}` },
        h("header", {}, h("strong", { text: a.annotator_email }), h("span", { class: "muted small", text: `#${a.id}` })),
        answerView(fields, modules, {
          task: item.task, rendered: item.task.rendered, value: a.value,
          differs: a.differs, compare: item.majority, differsClass: "rv-differs",
        }),
      ),
    ),
  );
}

function renderContext(item) {
  const fields = fieldsOf(item.schema);
  const shown = mountContext(els.context, { fields, task: item.task, rendered: item.task.rendered, prompts: true });
  if (shown) return;
  for (const [key, value] of Object.entries(item.task.data || {})) {
    const url = typeof value === "string" ? item.task.media?.[value] : null;
    const body = url // an uploaded file (a boxes field's image): the image, not its name
      ? h("img", { class: "rv-media", src: url, alt: `${key}: ${value}` })
      : h("pre", { class: "lh-plain", text: typeof value === "string" ? value : JSON.stringify(value, null, 2) });
    els.context.append(h("div", { class: "lh-context-item", dataset: { key } }, h("div", { class: "lh-context-key muted", text: key }), body));
  }
  els.context.hidden = false;
}

function closePanel() {
  for (const w of state.widgets) w.widget.destroy();
  state.widgets = [];
  els.correctFields.replaceChildren();
  els.reject.hidden = true;
  els.correct.hidden = true;
  els.errors.hidden = true;
  state.panel = null;
}

async function show(item) {
  const modules = item.task ? await loadModules(fieldsOf(item.schema)) : null;
  closePanel();
  state.item = item;
  leases.hold({ task: item.task, lease: { seconds: item.lease_seconds } });
  feedback.show(item);
  if (!item.task) {
    els.task.hidden = true;
    say("Nothing is waiting for your review. Finished tasks appear here as annotators submit them.", "ok");
    return;
  }
  const t = item.task;
  say("");
  els.task.hidden = false;
  els.title.textContent = `Task ${t.id}${t.external_id ? ` · ${t.external_id}` : ""}`;
  const shares = Object.entries(item.agreement || {}).map(([name, share]) => `${name} ${Math.round(share * 100)}%`);
  // The task is leased to this reviewer (other reviewers are shown other tasks) until then.
  const until = item.lease_expires_at
    ? ` · yours until ${new Date(item.lease_expires_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`
    : "";
  els.agreement.textContent = `${t.annotations.length} annotations · agreement: ${shares.join(", ") || "—"}${until}`;
  els.open.href = `/tasks/${t.id}`;
  renderContext(item);
  renderAnnotations(item, modules);
}

async function loadNext() {
  try {
    await show(await api("POST", `/api/projects/${PROJECT}/review/next?after=${state.after}`));
  } catch (error) {
    els.task.hidden = true;
    say(error.message, "error");
  }
}

async function decide(body) {
  if (state.busy || !state.item?.task) return;
  state.busy = true;
  const id = state.item.task.id;
  try {
    await api("POST", `/api/tasks/${id}/review`, body);
    await loadNext(); // a decided task leaves the queue; skipped ones stay passed over
    const done = {
      accept: "accepted",
      reject: "rejected, back in the queue; its annotators see your reason and may fix their answers",
      correct: "corrected",
    }[body.decision];
    const rest = state.item?.task ? "" : " Nothing else is waiting for your review.";
    say(`Task ${id} ${done}.${rest}`, "ok");

  } catch (error) {
    showError(els.errors, error);
    els.errors.hidden = false;
  } finally {
    state.busy = false;
  }
}

function openReject() {
  closePanel();
  state.panel = "reject";
  els.reject.hidden = false;
  els.reason.focus();
}

async function openCorrect() {
  closePanel();
  state.panel = "correct";
  els.correct.hidden = false;
  const item = state.item;
  const fields = fieldsOf(item.schema);
  for (const [i, field] of fields.entries()) {
    const frame = fieldFrame(field, i);
    els.correctFields.append(frame.root);
    const module = await loadWidget(field.kind);
    const value = item.majority[field.name] ?? null;
    const widget = module.mount(frame.body, {
      field, task: item.task, rendered: item.task.rendered?.[field.name], value, readOnly: false, onChange() {},
    });
    state.widgets.push({ field, widget, root: frame.root });
  }
  state.widgets[0]?.widget.focus();
}

function correction() {
  const value = {};
  for (const { field, widget } of state.widgets) {
    const v = widget.getValue();
    if (v !== null && v !== undefined) value[field.name] = v;
  }
  return value;
}

function skip() {
  if (!state.item?.task) return;
  state.after = state.item.task.id;
  loadNext();
}

els.actions.addEventListener("click", (event) => {
  const action = event.target.closest("button")?.dataset.action;
  if (action === "accept") decide({ decision: "accept" });
  else if (action === "reject") openReject();
  else if (action === "correct") openCorrect();
  else if (action === "skip") skip();
});
for (const form of [els.reject, els.correct]) {
  form.addEventListener("click", (event) => {
    if (event.target.closest("button")?.dataset.action === "cancel") closePanel();
  });
}
els.reject.addEventListener("submit", (event) => {
  event.preventDefault();
  decide({ decision: "reject", reason: els.reason.value });
});
els.correct.addEventListener("submit", (event) => {
  event.preventDefault();
  decide({ decision: "correct", value: correction() });
});

document.addEventListener("keydown", (event) => {
  if (!state.item?.task) return;
  if (event.key === "Escape" && state.panel) {
    closePanel();
    event.preventDefault();
    return;
  }
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && state.panel) {
    (state.panel === "reject" ? els.reject : els.correct).requestSubmit();
    event.preventDefault();
    return;
  }
  if (state.panel === "correct") {
    if (isTyping(event.target)) return;
    const active = state.widgets.find((w) => w.root.contains(document.activeElement)) || state.widgets[0];
    if (active && active.widget.handleKey(event)) event.preventDefault();
    return;
  }
  if (state.panel || isTyping(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
  const key = event.key.toLowerCase();
  const actions = { a: () => decide({ decision: "accept" }), r: openReject, c: openCorrect, n: skip };
  if (actions[key]) {
    event.preventDefault();
    actions[key]();
  }
});

loadNext();
