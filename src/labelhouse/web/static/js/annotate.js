// The annotate page controller: leases tasks, mounts one widget per schema field, routes
// keys, keeps undo and a local draft, submits (and gets the next task in the same round
// trip), retries when offline (one Idempotency-Key per submission, so a retry never saves
// twice), keeps its lease alive while open and gives it back as the page goes away, and
// opens earlier submissions for editing.
// Widgets are ES modules under widgets/ (see widgets/README.md for their contract).
import { api, csrfToken } from "./api.js";
import { clearDraft, loadDraft, pruneDrafts, saveDraft } from "./annotate/drafts.js";
import { initialValues, showBanner } from "./annotate/initial.js";
import { openHelp } from "./annotate/help.js";
import { Feedback } from "./annotate/feedback.js";
import { HistoryPanel } from "./annotate/history.js";
import { LeaseKeeper } from "./annotate/lease.js";
import { PreAnnotationMarks } from "./annotate/preannotation.js";
import { progressQuery, showProgress } from "./annotate/progress.js";
import { groupProblems, isTransient } from "./annotate/problems.js";
import { SkipDialog } from "./annotate/skip.js";
import { newKey, stableJson, submissionFor } from "./annotate/submission.js";
import { UndoStack } from "./annotate/undo.js";
import { mountContext } from "./widgets/lib/context.js";
import { clone, h, isPlain, isTyping } from "./widgets/lib/dom.js";
import { fieldFrame } from "./widgets/lib/frame.js";
import { loadWidget } from "./widgets/lib/load.js";

const config = JSON.parse(document.getElementById("lh-annotate-config").textContent);
const $ = (id) => document.getElementById(id);
const els = {
  work: $("an-work"), task: $("an-task"), ref: $("an-task-ref"), banner: $("an-banner"), context: $("an-context"),
  fields: $("an-fields"), done: $("an-done"), actions: $("an-actions"), status: $("an-status"),
  blocked: $("an-blocked"),
  submit: $("an-submit"), skip: $("an-skip"), undo: $("an-undo"), confirm: $("an-skip-confirm"),
  help: $("an-help"), instructions: $("an-instructions"), general: $("an-general-errors"),
};
const USER = config.user.id;
const PROJECT = config.project.id;
const store = window.localStorage;
const RETRY_MAX_MS = 30000;
const SERVER_DRAFT_MS = 30000;

const state = {
  schema: config.schema,
  task: null,
  mode: "queue", // "queue": a leased task; "edit": reopened from my submissions
  mounted: [], // {field, module, widget, frame}
  values: {},
  active: 0,
  undo: new UndoStack(),
  shownAt: 0,
  sending: false,
  retry: { timer: 0, attempt: 0 },
  dirtyForServer: false,
  pending: null, // the submission being sent or retried: {taskId, key, body}
  skipKey: null, // {taskId, key, body}: a skip retried by hand is the same skip
};
window.__lhSwaps = [];

const preAnnotation = new PreAnnotationMarks(els.banner);
const skipDialog = new SkipDialog(els.confirm);

const fieldsOf = (schema) => (Array.isArray(schema) ? schema : schema?.fields || []);

// -- status line ------------------------------------------------------------------------------
function say(text, tone = "") {
  els.status.textContent = text;
  els.status.dataset.tone = tone;
}

function sayWithAction(text, tone, label, action) {
  const b = h("button", { type: "button", class: "link", text: label });
  b.addEventListener("click", action);
  els.status.replaceChildren(text, " ", b);
  els.status.dataset.tone = tone;
}

// -- showing a task -----------------------------------------------------------------------------
function teardown() {
  for (const m of state.mounted) m.widget.destroy();
  state.mounted = [];
  state.values = {};
  state.undo.clear();
  preAnnotation.reset();
  els.fields.replaceChildren();
  els.general.replaceChildren();
  els.general.hidden = true;
  hideConfirm();
}

/**
 * Show a task (or the "all done" state when `payload.task` is null).
 * @param {{task: object|null, schema?: object}} payload a /next body, or {task} from GET /api/tasks/{id}
 * @param {"queue"|"edit"} mode
 */
async function show(payload, mode) {
  if (payload.schema) state.schema = payload.schema;
  showProgress($("an-progress"), payload.progress);
  const fields = fieldsOf(state.schema);
  const modules = await Promise.all(fields.map((f) => loadWidget(f.kind)));
  const hadFocus = els.work.contains(document.activeElement) || document.activeElement === document.body;
  teardown();
  state.task = payload.task;
  state.mode = mode;
  if (mode === "queue") leases.hold(payload);
  historyPanel?.setCurrent(state.task ? state.task.id : null);
  feedback?.taskShown(state.task);
  const url = new URL(window.location.href);
  if (mode === "edit" && state.task) url.searchParams.set("task", String(state.task.id));
  else url.searchParams.delete("task");
  window.history.replaceState(null, "", url);
  els.blocked.hidden = true;
  if (!state.task) {
    els.task.hidden = true;
    els.actions.hidden = true;
    els.done.hidden = false;
    els.ref.textContent = "";
    say("No tasks left for you in this project.");
    return;
  }
  const task = state.task;
  els.task.hidden = false;
  els.actions.hidden = false;
  els.done.hidden = true;
  els.ref.textContent = `Task #${task.id}${task.external_id ? ` · ${task.external_id}` : ""}`;
  els.skip.querySelector(".an-skip-text").textContent = mode === "edit" ? "Back to queue" : "Skip";
  const init = initialValues(task, USER, loadDraft(store, USER, task.id));
  showBanner(els.banner, init);
  mountContext(els.context, { fields, task, rendered: task.rendered || {} });
  fields.forEach((field, i) => {
    const frame = fieldFrame(field, i);
    const start = init.values[field.name] ?? null;
    els.fields.append(frame.root);
    const widget = modules[i].mount(frame.body, {
      field, task, rendered: task.rendered?.[field.name], value: clone(start), readOnly: false,
      onChange: (v) => changed(i, v),
    });
    frame.root.addEventListener("pointerdown", () => activate(i, false));
    frame.root.addEventListener("focusin", () => activate(i, false));
    state.mounted.push({ field, module: modules[i], widget, frame });
    state.values[field.name] = clone(widget.getValue());
    if (init.source === "prediction" && start !== null) preAnnotation.add(field.name, frame.root, state.values[field.name]);
  });
  state.shownAt = performance.now();
  state.dirtyForServer = false;
  updateUndo();
  activate(0, hadFocus);
  say(mode === "edit" ? `Editing task #${task.id}.` : `Task #${task.id} loaded.`);
}

function activate(i, focus) {
  if (!state.mounted[i]) return;
  state.active = i;
  state.mounted.forEach((m, k) => m.frame.setActive(k === i));
  if (focus) {
    state.mounted[i].widget.focus();
    state.mounted[i].frame.root.scrollIntoView({ block: "nearest" });
  }
}

function changed(i, value) {
  const m = state.mounted[i];
  if (!m) return;
  const name = m.field.name;
  const typing = isTyping(document.activeElement) && m.frame.root.contains(document.activeElement);
  state.undo.record(name, state.values[name], value, { coalesce: typing });
  state.values[name] = clone(value);
  preAnnotation.update(name, state.values[name]);
  m.frame.setErrors([]);
  if (state.active !== i) activate(i, false);
  keepDraft();
  updateUndo();
}

function keepDraft() {
  if (!state.task) return;
  saveDraft(store, USER, state.task.id, state.values);
  state.dirtyForServer = true;
}

function updateUndo() {
  els.undo.disabled = !state.undo.canUndo;
}

function undoRedo(redo) {
  const step = redo ? state.undo.redo() : state.undo.undo();
  if (!step) { say(redo ? "Nothing to redo." : "Nothing to undo."); return; }
  const i = state.mounted.findIndex((m) => m.field.name === step.field);
  const value = clone(redo ? step.after : step.before);
  state.mounted[i].widget.setValue(clone(value));
  state.values[step.field] = value;
  preAnnotation.update(step.field, value);
  keepDraft();
  updateUndo();
  activate(i, false);
  say(`${redo ? "Redid" : "Undid"} a change to “${state.mounted[i].field.title || step.field}”.`);
}

// -- submitting ---------------------------------------------------------------------------------
function collect() {
  const value = {};
  for (const m of state.mounted) value[m.field.name] = m.widget.getValue();
  return value;
}

function showProblems(error) {
  const { byField, general } = groupProblems(error.details, state.mounted.map((m) => m.field.name));
  let first = -1;
  state.mounted.forEach((m, i) => {
    const problems = byField.get(m.field.name) || [];
    m.frame.setErrors(problems);
    if (problems.length && first < 0) first = i;
  });
  els.general.replaceChildren(...general.map((p) => h("p", { text: p })));
  els.general.hidden = general.length === 0;
  if (first >= 0) activate(first, true);
  say(first >= 0 ? "Not saved: fix the marked fields, then submit again." : `Not saved: ${error.message}`, "error");
}

function clearRetry() {
  clearTimeout(state.retry.timer);
  state.retry.timer = 0;
}

async function submit(startedAt = performance.now()) {
  if (!state.task || state.sending) return;
  clearRetry();
  const task = state.task;
  const value = collect();
  saveDraft(store, USER, task.id, value);
  // A retry of this answer is the same submission (same key, body and lead time): if the
  // first attempt was saved and only its answer lost, the server answers without saving.
  const sending = submissionFor(state.pending, task.id, value, () => Math.round(performance.now() - state.shownAt));
  state.pending = sending;
  state.sending = true;
  els.submit.disabled = true;
  say("Saving…");
  let result;
  try {
    result = await api("POST", `/api/tasks/${task.id}/annotations?next=1&render=1&${progressQuery()}`, sending.body, {
      headers: { "Idempotency-Key": sending.key },
    });
  } catch (error) {
    state.sending = false;
    els.submit.disabled = false;
    if (state.task !== task) return;
    if (isTransient(error)) return scheduleRetry();
    if (error.status === 422) return showProblems(error);
    if (error.status === 401) return sayWithAction("Not saved: your session ended. Log in again in another tab — your work is kept here.", "error", "Retry", () => submit());
    if (error.status === 409) return sayWithAction(`Not saved: ${error.message}`, "error", "Get the next task", () => loadNext());
    return say(`Not saved: ${error.message} Your work is kept in this browser.`, "error");
  }
  state.retry.attempt = 0;
  if (state.pending === sending) state.pending = null;
  if (leases.taskId === task.id) leases.drop(); // the submit ended it
  clearDraft(store, USER, task.id);
  state.sending = false;
  els.submit.disabled = false;
  feedback.submitted(task.id); // a returned answer submitted again leaves the Returned list
  const next = result.next ?? (await fetchNext());
  if (!next) {
    if (!els.blocked.hidden) say(`Saved task #${task.id}.`, "ok"); // saved, then paused
    return;
  }
  await show(next, "queue");
  if (historyPanel.open) historyPanel.load(false);
  say(`Saved task #${task.id}.${next.task ? ` Now task #${next.task.id}.` : ""}`, "ok");
  // Time from the key press (or click) until the next task is on screen, after the frame.
  requestAnimationFrame(() => setTimeout(() => {
    window.__lhLastSwapMs = performance.now() - startedAt;
    window.__lhSwaps.push(window.__lhLastSwapMs);
  }, 0));
}

function scheduleRetry() {
  const delay = Math.min(RETRY_MAX_MS, 1000 * 2 ** state.retry.attempt);
  state.retry.attempt += 1;
  clearRetry();
  state.retry.timer = setTimeout(() => submit(), delay);
  sayWithAction(`Offline — not saved yet, retrying in ${Math.round(delay / 1000)} s. Your work is kept in this browser.`, "warn", "Retry now", () => submit());
}

window.addEventListener("online", () => { if (state.retry.timer) submit(); });

/**
 * The queue refuses new tasks (403): e.g. a gold-accuracy pause. The reason replaces the
 * task — a submitted task must not stay on screen looking editable — until a manager lifts
 * the pause and "Check again" gets a task.
 */
function showBlocked(message) {
  teardown();
  state.task = null;
  leases.drop(); // refused a new lease: none is held
  historyPanel?.setCurrent(null);
  els.task.hidden = true;
  els.actions.hidden = true;
  els.done.hidden = true;
  els.ref.textContent = "";
  els.blocked.querySelector(".an-blocked-title").textContent = /^paused/i.test(message)
    ? "Your work on this project is paused"
    : "You cannot get new tasks right now";
  els.blocked.querySelector(".an-blocked-message").textContent = message;
  els.blocked.hidden = false;
}

async function fetchNext() {
  try {
    return await api("POST", `/api/projects/${PROJECT}/next?render=1&${progressQuery()}`);
  } catch (error) {
    if (isTransient(error)) sayWithAction("Offline — could not fetch the next task.", "warn", "Try again", () => loadNext());
    else if (error.status === 403) { showBlocked(error.message); say(""); }
    else say(`Could not fetch the next task: ${error.message}`, "error");
    return null;
  }
}

async function loadNext() {
  const next = await fetchNext();
  if (next) await show(next, "queue");
}

async function openTask(taskId) {
  try {
    const task = await api("GET", `/api/tasks/${taskId}?render=1`);
    await show({ task }, "edit");
  } catch (error) {
    if (!state.task) await loadNext(); // opened from a link: carry on with the queue
    say(`Could not open task #${taskId}: ${error.message}`, "error");
  }
}

// Saving a server-side draft now and then renews the lease during long tasks and keeps the
// work on another device too; failures are fine (the local draft is the safety net).
setInterval(async () => {
  if (!state.task || state.mode !== "queue" || !state.dirtyForServer || state.sending) return;
  state.dirtyForServer = false;
  try {
    await api("POST", `/api/tasks/${state.task.id}/annotations`, { value: collect(), draft: true });
  } catch { /* invalid partial answers or offline: the browser draft still has it */ }
}, SERVER_DRAFT_MS);

// -- the lease: heartbeat while open, given back on leaving ----------------------------------
/**
 * The lease ended behind the page's back (it was hidden longer than the lease, or given back
 * by a closing page). Ask for work again: the same task when it is still free, silently;
 * otherwise the answer on screen stays (it is in the local draft, and submitting it still
 * counts while the task needs annotators) and the next task is one click away.
 */
async function leaseLost(taskId, error) {
  const onScreen = state.mode === "queue" && state.task?.id === taskId;
  const next = await fetchNext();
  if (!next) return;
  leases.hold(next);
  if (!onScreen || next.task?.id === taskId) return;
  sayWithAction(`${error.message} Your answer is kept in this browser.`, "warn", "Get the next task", () => show(next, "queue"));
}

// Back from the back/forward cache: the task was given back on leaving; claim again.
async function cameBack(released) {
  const next = await fetchNext();
  if (!next) return;
  if (state.mode !== "queue" || (next.task?.id === released && state.task?.id === released)) { leases.hold(next); return; }
  await show(next, "queue");
  say(`Task #${released} was given back while you were away.${next.task ? ` Now task #${next.task.id}.` : ""}`);
}

const leases = new LeaseKeeper({
  renew: (taskId) => api("POST", `/api/tasks/${taskId}/lease/renew`),
  lost: leaseLost,
  back: cameBack,
  ending: (taskId) => state.sending && state.task?.id === taskId,
  csrf: csrfToken,
});

// -- skipping -------------------------------------------------------------------------------
function askSkip() {
  if (!state.task) return;
  if (state.mode === "edit") { loadNext(); return; }
  skipDialog.show();
}

function hideConfirm() {
  skipDialog.hide();
}

async function doSkip() {
  const body = skipDialog.body(); // the reason and note; null: a note is missing (said)
  if (!body) return;
  hideConfirm();
  const task = state.task;
  if (!task) return;
  const same = state.skipKey?.taskId === task.id && state.skipKey.body === stableJson(body);
  if (!same) state.skipKey = { taskId: task.id, key: newKey(), body: stableJson(body) };
  try {
    await api("POST", `/api/tasks/${task.id}/skip`, body, { headers: { "Idempotency-Key": state.skipKey.key } });
    clearDraft(store, USER, task.id);
    if (leases.taskId === task.id) leases.drop();
    await loadNext();
    say(`Skipped task #${task.id}.`);
  } catch (error) {
    say(`Could not skip: ${error.message}`, "error");
  }
}

// -- keys -------------------------------------------------------------------------------------
function moveField(step) {
  const next = state.active + step;
  if (next < 0 || next >= state.mounted.length) return false;
  activate(next, true);
  return true;
}

function inAnyField(target) {
  return state.mounted.some((m) => m.frame.root.contains(target));
}

function onKeyDown(event) {
  const key = event.key;
  const ctrl = event.ctrlKey || event.metaKey;
  if (els.help.open) {
    if (key === "?" || key === "Escape") { event.preventDefault(); els.help.close(); }
    return;
  }
  if (skipDialog.open) {
    const action = skipDialog.key(event);
    if (action === "cancel") hideConfirm();
    else if (action === "skip") doSkip();
    if (action) event.preventDefault();
    return;
  }
  if (!state.task) {
    if (isPlain(event) && !isTyping(event.target) && (key === "h" || key === "H")) historyPanel.toggle();
    return;
  }
  // While a submission is on its way, keys would edit a task that is already sent.
  if (state.sending) { if (!["Shift", "Control", "Alt", "Meta"].includes(key)) event.preventDefault(); return; }
  if (ctrl && key === "Enter") { event.preventDefault(); submit(event.timeStamp); return; }
  if (ctrl && !event.shiftKey && key.toLowerCase() === "s") { event.preventDefault(); askSkip(); return; }
  const typing = isTyping(event.target);
  if (ctrl && !typing && (key.toLowerCase() === "z" || key.toLowerCase() === "y")) {
    event.preventDefault();
    undoRedo(key.toLowerCase() === "y" || event.shiftKey);
    return;
  }
  if (event.altKey && !ctrl && (key === "ArrowDown" || key === "ArrowUp")) {
    event.preventDefault();
    moveField(key === "ArrowDown" ? 1 : -1);
    return;
  }
  // Tab is the browser's: it walks every control in page order (top bar, tools, the
  // fields' controls, the submit bar, the side panel) and never loops inside the task.
  if (key === "Tab") return;
  // Enter or Space on a focused control outside the fields (a tool, Submit, a link) is
  // that control's; the active field's keys must not take it.
  if ((key === "Enter" || key === " ") && !inAnyField(event.target) && event.target instanceof Element &&
      event.target.closest("a[href], button, summary, [role=button]")) return;
  if (typing) {
    if (key === "Escape") { event.target.blur(); activate(state.active, false); event.preventDefault(); }
    return;
  }
  if (key === "?" && !ctrl && !event.altKey) { event.preventDefault(); openHelp(els.help, state.mounted); return; }
  const active = state.mounted[state.active];
  if (active && active.widget.handleKey(event)) {
    event.preventDefault();
    const advance = active.module.advancesOnKey;
    const auto = typeof advance === "function" ? advance(active.field) : Boolean(advance);
    if (auto && active.widget.getValue() !== null && /^[0-9a-z]$/i.test(key)) moveField(1);
    return;
  }
  if (!isPlain(event)) return;
  if (key === "h" || key === "H") { event.preventDefault(); historyPanel.toggle(); return; }
  if (key === "i" || key === "I") { event.preventDefault(); els.instructions.hidden = !els.instructions.hidden; }
}

// -- wiring -------------------------------------------------------------------------------------
const feedback = new Feedback({
  projectId: PROJECT,
  fields: () => fieldsOf(state.schema),
  openTask: (id) => openTask(id),
  showReturned: Boolean(config.show_returned),
  // A returned task leased again to fix it: the server gave back the page's lease.
  fixing: async (payload) => {
    leases.drop();
    await show(payload, "queue");
    say(`Fixing task #${payload.task.id}: change your answer and submit it again.`);
  },
});
const historyPanel = new HistoryPanel($("an-history"), {
  projectId: PROJECT, userId: USER, onOpen: (id) => openTask(id), schema: () => state.schema,
  decorate: (list, tasks) => feedback.decorateHistory(list, tasks),
});
document.addEventListener("keydown", onKeyDown);
// The sticky submit bar covers the bottom of the window: whatever the focus or the field
// keys scroll into view stops above it (on a phone the bar is a good part of the screen).
new ResizeObserver(() => {
  document.documentElement.style.scrollPaddingBottom = `${els.actions.offsetHeight + 8}px`;
}).observe(els.actions);
els.submit.addEventListener("click", (e) => submit(e.timeStamp));
els.skip.addEventListener("click", askSkip);
els.undo.addEventListener("click", () => undoRedo(false));
els.confirm.querySelector("button.an-confirm-skip").addEventListener("click", doSkip);
els.confirm.querySelector("button.an-confirm-cancel").addEventListener("click", hideConfirm);
document.querySelector("[data-action=help]").addEventListener("click", () => openHelp(els.help, state.mounted));
document.querySelector("[data-action=history]").addEventListener("click", () => historyPanel.toggle());
document.querySelector("[data-action=instructions]").addEventListener("click", () => { els.instructions.hidden = !els.instructions.hidden; });
els.help.querySelector("button.an-help-close").addEventListener("click", () => els.help.close());
document.querySelectorAll("[data-action=open-history]").forEach((b) => b.addEventListener("click", () => historyPanel.toggle(true)));
els.blocked.querySelector("[data-action=retry-next]").addEventListener("click", async () => {
  say("Checking…");
  const next = await fetchNext();
  if (next) { await show(next, "queue"); say(next.task ? `Task #${next.task.id} loaded.` : "No tasks left for you in this project."); }
  else if (!els.blocked.hidden) say("Still paused.", "warn");
});

pruneDrafts(store, USER);
if (config.open_task) openTask(config.open_task);
else loadNext();
