// Unsent work kept in the browser (localStorage), one entry per user and task, so nothing
// typed is lost to a failed request, a closed tab or a crash. Pure apart from the storage
// object passed in (tests use a fake); tested with `node --test`.

const PREFIX = "lh:draft:";
const MAX_AGE_MS = 30 * 24 * 3600 * 1000;

/**
 * @param {number} userId
 * @param {number} taskId
 * @returns {string} the storage key of a draft
 */
export function draftKey(userId, taskId) {
  return `${PREFIX}${userId}:${taskId}`;
}

/**
 * Save the current values of a task (overwrites the previous draft).
 * @param {Storage} storage localStorage
 * @param {number} userId
 * @param {number} taskId
 * @param {object} values field name → value
 * @param {number} [now]
 * @returns {boolean} false if the browser refused (quota, private mode)
 */
export function saveDraft(storage, userId, taskId, values, now = Date.now()) {
  try {
    storage.setItem(draftKey(userId, taskId), JSON.stringify({ values, savedAt: now }));
    return true;
  } catch {
    return false;
  }
}

/**
 * @param {Storage} storage
 * @param {number} userId
 * @param {number} taskId
 * @returns {{values: object, savedAt: number}|null}
 */
export function loadDraft(storage, userId, taskId) {
  try {
    const raw = storage.getItem(draftKey(userId, taskId));
    const draft = raw ? JSON.parse(raw) : null;
    return draft && typeof draft.values === "object" && draft.values ? draft : null;
  } catch {
    return null;
  }
}

/**
 * Forget a task's draft (after the server has stored the submission).
 * @param {Storage} storage
 * @param {number} userId
 * @param {number} taskId
 */
export function clearDraft(storage, userId, taskId) {
  try { storage.removeItem(draftKey(userId, taskId)); } catch { /* storage unavailable */ }
}

/**
 * Drop this user's drafts older than a month, so storage does not fill up over time.
 * @param {Storage} storage
 * @param {number} userId
 * @param {number} [now]
 * @returns {number} how many were removed
 */
export function pruneDrafts(storage, userId, now = Date.now()) {
  const mine = `${PREFIX}${userId}:`;
  const stale = [];
  try {
    for (let i = 0; i < storage.length; i += 1) {
      const key = storage.key(i);
      if (!key || !key.startsWith(mine)) continue;
      let savedAt = 0;
      try { savedAt = JSON.parse(storage.getItem(key)).savedAt || 0; } catch { /* broken entry */ }
      if (now - savedAt > MAX_AGE_MS) stale.push(key);
    }
    stale.forEach((key) => storage.removeItem(key));
  } catch {
    return 0;
  }
  return stale.length;
}
