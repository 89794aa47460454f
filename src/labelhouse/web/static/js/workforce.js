// My workforce page (workforce managers): the invitation links, shown once, of the invite
// form (an app.js data-api form; this listens for its "api:done" event), deactivating and
// reactivating annotators in place, and each project's "Work" expander, loaded from
// GET /api/workforce/projects/{id} when first opened.
// Everything shown is text (textContent / input values), never HTML.
import { api, showError } from "./api.js";
import { inviteLink } from "./app.js";

const el = (tag, className, text) => {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
};

// Timestamps as the server-rendered tables print them (UTC, to the minute).
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const pad = (n) => String(n).padStart(2, "0");

function parseUtc(value) {
  if (!value) return null;
  const text = /[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? null : date;
}

function shortWhen(value) {
  const d = parseUtc(value);
  if (!d) return "—";
  return `${MONTHS[d.getUTCMonth()]} ${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
}

function whenFull(value) {
  const d = parseUtc(value);
  if (!d) return "—";
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
}

// -- invitations: the links, shown once ------------------------------------------------------

function secretField(label, value) {
  const input = el("input", "secret");
  input.readOnly = true;
  input.value = value;
  input.setAttribute("aria-label", label);
  input.addEventListener("focus", () => input.select());
  return input;
}

function addPending(invitation) {
  const table = document.getElementById("invitation-table");
  if (!table) return;
  const row = el("tr");
  row.dataset.invitation = invitation.email;
  row.append(
    el("td", "email", invitation.email),
    el("td", "nowrap", shortWhen(invitation.created_at)),
    el("td", "nowrap", shortWhen(invitation.expires_at)),
  );
  table.tBodies[0].append(row);
  table.hidden = false;
  const none = document.getElementById("no-invitations");
  if (none) none.hidden = true;
}

function showInviteLinks(result, data) {
  result.replaceChildren();
  const n = data.items.length;
  result.append(el("p", "", `${n} invitation${n === 1 ? "" : "s"} created. Send each person their link (shown once, valid for 7 days):`));
  const list = el("ul", "invite-links");
  for (const inv of data.items) {
    const item = el("li");
    item.append(el("span", "", inv.email), secretField(`Invitation link for ${inv.email}`, inviteLink(inv.token)));
    list.append(item);
    addPending(inv);
  }
  result.append(list);
}

document.addEventListener("api:done", (event) => {
  const { data, result } = event.detail;
  if (result && event.target.dataset.inviteLinks !== undefined) showInviteLinks(result, data);
});

// -- deactivating and reactivating annotators ------------------------------------------------

function updateCount() {
  const rows = [...document.querySelectorAll("#people-table tr[data-person]")];
  const active = rows.filter((r) => r.dataset.active === "yes").length;
  const count = document.getElementById("people-count");
  if (count) count.textContent = `${active} active · ${rows.length} in all`;
}

function setActive(row, button, active) {
  row.dataset.active = active ? "yes" : "no";
  row.classList.toggle("deactivated", !active);
  const badge = row.querySelector(".badge.state");
  if (badge) {
    badge.className = `badge state ${active ? "ok" : "flag"}`;
    badge.textContent = active ? "active" : "deactivated";
  }
  button.dataset.personAction = active ? "deactivate" : "reactivate";
  button.classList.toggle("danger", active);
  button.querySelector(".action-text").textContent = active ? "Deactivate" : "Reactivate";
  updateCount();
}

async function personAction(button) {
  const row = button.closest("tr[data-person]");
  const result = document.getElementById("people-result");
  const { personAction: action, userId, email } = button.dataset;
  const question =
    action === "deactivate"
      ? `Deactivate ${email}? Their sessions, API tokens and task leases end now; their work stays attributed to them.`
      : `Reactivate ${email}? They can sign in again with their password.`;
  if (!window.confirm(question)) return;
  button.disabled = true;
  try {
    const data = await api("POST", `/api/workforce/people/${encodeURIComponent(userId)}/${action}`);
    setActive(row, button, action === "reactivate");
    result.classList.remove("error");
    result.classList.add("ok");
    result.textContent =
      action === "deactivate" ? `${email}: ${(data && data.message) || "Deactivated."}` : `${email}: Reactivated.`;
  } catch (error) {
    result.classList.remove("ok");
    showError(result, error);
  } finally {
    button.disabled = false;
    button.focus(); // the same button now offers the opposite action
  }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-person-action]");
  if (button) personAction(button);
});

// -- a project's work, per person ------------------------------------------------------------

function accuracyText(item) {
  if (item.gold_accuracy === null || item.gold_accuracy === undefined) {
    return item.gold_answers ? "not scored yet" : "—";
  }
  return `${Math.round(item.gold_accuracy * 100)} % of ${item.gold_checked}`;
}

function workTable(items, projectName) {
  const table = el("table", "table compact work-table");
  table.append(el("caption", "sr-only", `Work of your people in ${projectName}`));
  const head = el("tr");
  for (const [text, cls] of [
    ["Person", ""],
    ["Submitted", "num"],
    ["Last submitted", ""],
    ["Gold answers", "num"],
    ["Gold accuracy", "num"],
  ]) {
    const th = el("th", cls, text);
    th.scope = "col";
    head.append(th);
  }
  table.createTHead().append(head);
  const body = table.createTBody();
  for (const item of items) {
    const row = el("tr");
    row.dataset.person = item.email;
    const who = el("td", "email", item.email);
    const submitted = el("td", "num", item.submitted);
    submitted.dataset.col = "submitted";
    const last = el("td", "nowrap", whenFull(item.last_submitted));
    last.dataset.col = "last_submitted";
    const gold = el("td", "num", item.gold_answers);
    gold.dataset.col = "gold_answers";
    const accuracy = el("td", "num", accuracyText(item));
    accuracy.dataset.col = "gold_accuracy";
    row.append(who, submitted, last, gold, accuracy);
    body.append(row);
  }
  return table;
}

async function loadWork(details) {
  const body = details.querySelector(".work-body");
  const projectName = details.closest("tbody[data-project]")?.dataset.project || "";
  details.dataset.loaded = "loading";
  body.classList.remove("error");
  body.replaceChildren(el("p", "muted small", "Loading…"));
  try {
    const data = await api("GET", `/api/workforce/projects/${encodeURIComponent(details.dataset.work)}`);
    body.replaceChildren();
    if (!data.items.length) body.append(el("p", "muted small", "Nobody in your workforce yet."));
    else {
      body.append(workTable(data.items, projectName));
      body.append(el("p", "hint", "Gold accuracy: the share of your people's checked gold answers that were right (the gold answers themselves stay with the lab)."));
    }
    details.dataset.loaded = "yes";
  } catch (error) {
    showError(body, error);
    delete details.dataset.loaded; // opening it again retries
  }
}

for (const details of document.querySelectorAll("details[data-work]")) {
  details.addEventListener("toggle", () => {
    if (details.open && !details.dataset.loaded) loadWork(details);
  });
}
