// People page: the answers the server gives only once and that say more than one line —
// a member's one-time password, and the links of a bulk invitation. The calls themselves
// are app.js's data-api forms and buttons; this listens for their "api:done" event.
// Ending a vendor's contract is called from here: its answer changes the team and the
// members table, which are updated in place so the answer's message stays in view.
// Everything shown is text (textContent / input values), never HTML.
import { api, showError } from "./api.js";
import { inviteLink, showSecret } from "./app.js";

const el = (tag, className, text) => {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
};

function secretField(label, value) {
  const input = el("input", "secret");
  input.readOnly = true;
  input.value = value;
  input.setAttribute("aria-label", label);
  input.addEventListener("focus", () => input.select());
  return input;
}

function showOneTimePassword(result, data) {
  showSecret(
    result,
    `${data.message} Hand it over to them yourself: it is shown only now, and they must choose their own password when they sign in with it.`,
    data.one_time_password,
  );
}

function showBulkInvite(result, data) {
  result.replaceChildren();
  const n = data.invited.length;
  if (n) {
    result.append(el("p", "", `${n} invitation${n === 1 ? "" : "s"} created. Send each person their link (shown once, valid for 7 days):`));
    const list = el("ul", "invite-links");
    for (const inv of data.invited) {
      const item = el("li");
      item.append(el("span", "", `${inv.email} as ${inv.role}`), secretField(`Invitation link for ${inv.email}`, inviteLink(inv.token)));
      list.append(item);
    }
    result.append(list);
  } else {
    result.append(el("p", "", "Nobody new to invite."));
  }
  if (data.already_members.length) {
    result.append(el("p", "skipped", `Already members, not invited: ${data.already_members.join(", ")}.`));
  }
  if (data.already_invited.length) {
    result.append(el("p", "skipped", `Already invited, not invited again (re-send their invitation for a new link): ${data.already_invited.join(", ")}.`));
  }
}

document.addEventListener("api:done", (event) => {
  const { data, result } = event.detail;
  if (!result) return;
  if (event.target.dataset.oneTimePassword !== undefined) showOneTimePassword(result, data);
  else if (event.target.dataset.bulkInvite !== undefined) showBulkInvite(result, data);
});

// -- ending a vendor's contract --------------------------------------------------------------

function markDeactivated(email) {
  const row = [...document.querySelectorAll("#people-table tr[data-person]")].find((r) => r.dataset.person === email);
  if (!row) return;
  row.classList.add("deactivated");
  const badge = row.querySelector("td.email .badge");
  if (badge) {
    badge.className = "badge flag";
    badge.textContent = "deactivated";
  }
}

async function endContract(button) {
  const team = button.closest("article.team");
  const result = team.querySelector(".team-result");
  if (!window.confirm(button.dataset.confirm)) return;
  button.disabled = true;
  try {
    const data = await api("POST", `/api/teams/${button.dataset.endContract}/end-contract`);
    result.classList.remove("error");
    result.classList.add("ok");
    result.textContent = data.message;
    team.querySelector("h3 .muted")?.before(el("span", "badge flag", "contract ended"), " ");
    for (const email of data.deactivated) markDeactivated(email);
    button.remove();
    result.tabIndex = -1; // the button is gone: keep keyboard focus near the answer
    result.focus();
  } catch (error) {
    result.classList.remove("ok");
    showError(result, error);
    button.disabled = false;
  }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-end-contract]");
  if (button) endContract(button);
});
