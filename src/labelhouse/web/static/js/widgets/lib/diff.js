// Comparing stored values: equality as the server's review majority sees it, the most
// common answer per field, list diffs for structured values (spans, boxes, choices) and a
// word diff for free text. Pure; tested with `node --test`.

/**
 * A value as canonical JSON (object keys sorted), so equal values give equal strings —
 * the same equality as `review.service.field_agreement` (orjson with sorted keys).
 * @param {*} value
 * @returns {string}
 */
export function canonical(value) {
  if (value === undefined) return "null";
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
}

/** @returns {boolean} whether two stored values are the same answer */
export const sameValue = (a, b) => canonical(a) === canonical(b);

/**
 * The most common value per field over several answers (ties: the one given first; an
 * unanswered field counts as null), as the review page's majority is computed.
 * @param {string[]} names field names
 * @param {object[]} answers annotation values ({field name: value})
 * @returns {object} {field name: most common value}; empty when there are no answers
 */
export function majorityByField(names, answers) {
  const out = {};
  if (!answers.length) return out;
  for (const name of names) {
    const counts = new Map(); // in order of first appearance, as Python's Counter
    for (const answer of answers) {
      const value = answer?.[name] ?? null;
      const key = canonical(value);
      if (!counts.has(key)) counts.set(key, { n: 0, value });
      counts.get(key).n += 1;
    }
    let best = null;
    for (const seen of counts.values()) if (!best || seen.n > best.n) best = seen;
    out[name] = best.value;
  }
  return out;
}

/**
 * The fields where an answer differs from the majority.
 * @param {object} answer
 * @param {object} majority from {@link majorityByField}
 * @returns {string[]}
 */
export function differingFields(answer, majority) {
  return Object.keys(majority).filter((name) => !sameValue(answer?.[name] ?? null, majority[name]));
}

/**
 * Which items of a list value are new, gone or changed. Items equal in both lists are
 * kept; of the rest, pairs that `related` matches (e.g. the same span relabelled, a box
 * moved) are "changed", the others added or removed.
 * @template T
 * @param {T[]|null} before
 * @param {T[]|null} after
 * @param {(a: T, b: T) => boolean} [related]
 * @returns {{kept: T[], added: T[], removed: T[], changed: Array<{from: T, to: T}>}}
 */
export function diffList(before, after, related = () => false) {
  const left = Array.isArray(before) ? [...before] : [];
  const right = Array.isArray(after) ? [...after] : [];
  const kept = [];
  for (let i = right.length - 1; i >= 0; i -= 1) {
    const j = left.findIndex((x) => sameValue(x, right[i]));
    if (j >= 0) {
      kept.unshift(right[i]);
      left.splice(j, 1);
      right.splice(i, 1);
    }
  }
  const changed = [];
  const added = [];
  for (const item of right) {
    const j = left.findIndex((x) => related(x, item));
    if (j >= 0) {
      changed.push({ from: left[j], to: item });
      left.splice(j, 1);
    } else added.push(item);
  }
  return { kept, added, removed: left, changed };
}

/**
 * Indices of the items of `value` that `other` does not hold (equal items match once).
 * @param {Array|null} value
 * @param {Array|null} other
 * @returns {Set<number>}
 */
export function itemsNotIn(value, other) {
  const pool = (Array.isArray(other) ? other : []).map(canonical);
  const out = new Set();
  (Array.isArray(value) ? value : []).forEach((item, i) => {
    const j = pool.indexOf(canonical(item));
    if (j >= 0) pool.splice(j, 1);
    else out.add(i);
  });
  return out;
}

const TOKEN = /\s+|[\p{L}\p{N}_'’]+|[^\s\p{L}\p{N}_'’]/gu;

/**
 * Split text into words, runs of whitespace and single punctuation marks.
 * @param {string} text
 * @returns {string[]} joined they give `text` back
 */
export function tokenize(text) {
  return text ? text.match(TOKEN) || [] : [];
}

const MAX_CELLS = 4_000_000; // LCS table limit: past it, the changed middle is replaced whole

/**
 * A word-level diff of two texts: runs of kept, removed and added text.
 * @param {string|null} before
 * @param {string|null} after
 * @returns {Array<{op: "same"|"removed"|"added", text: string}>} in reading order; removed
 *   text comes before the text added in its place
 */
export function wordDiff(before, after) {
  const a = tokenize(before || "");
  const b = tokenize(after || "");
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start += 1;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) { endA -= 1; endB -= 1; }
  const ops = a.slice(0, start).map((t) => ["same", t]);
  const midA = a.slice(start, endA);
  const midB = b.slice(start, endB);
  const n = midA.length;
  const m = midB.length;
  if (n && m && (n + 1) * (m + 1) <= MAX_CELLS) {
    // lcs[i][j]: longest common subsequence of midA[i:] and midB[j:]
    const width = m + 1;
    const lcs = new Uint32Array((n + 1) * width);
    for (let i = n - 1; i >= 0; i -= 1) {
      for (let j = m - 1; j >= 0; j -= 1) {
        lcs[i * width + j] = midA[i] === midB[j]
          ? lcs[(i + 1) * width + j + 1] + 1
          : Math.max(lcs[(i + 1) * width + j], lcs[i * width + j + 1]);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n && j < m) {
      if (midA[i] === midB[j]) { ops.push(["same", midA[i]]); i += 1; j += 1; }
      else if (lcs[(i + 1) * width + j] >= lcs[i * width + j + 1]) { ops.push(["removed", midA[i]]); i += 1; }
      else { ops.push(["added", midB[j]]); j += 1; }
    }
    for (; i < n; i += 1) ops.push(["removed", midA[i]]);
    for (; j < m; j += 1) ops.push(["added", midB[j]]);
  } else {
    for (const t of midA) ops.push(["removed", t]);
    for (const t of midB) ops.push(["added", t]);
  }
  for (const t of a.slice(endA)) ops.push(["same", t]);
  return mergeRuns(ops);
}

// Join neighbouring tokens of one kind; a lone space between two changes joins the change,
// so "a b" → "c d" reads as one replacement rather than four pieces.
function mergeRuns(ops) {
  const cleaned = ops.map(([op, text], k) => {
    const gap = op === "same" && /^\s+$/.test(text) && k > 0 && k < ops.length - 1
      && ops[k - 1][0] !== "same" && ops[k + 1][0] !== "same";
    return gap ? [["removed", text], ["added", text]] : [[op, text]];
  }).flat();
  const removed = [];
  const added = [];
  const out = [];
  const flush = () => {
    if (removed.length) out.push({ op: "removed", text: removed.join("") });
    if (added.length) out.push({ op: "added", text: added.join("") });
    removed.length = 0;
    added.length = 0;
  };
  for (const [op, text] of cleaned) {
    if (op === "removed") removed.push(text);
    else if (op === "added") added.push(text);
    else {
      flush();
      const last = out[out.length - 1];
      if (last?.op === "same") last.text += text;
      else out.push({ op: "same", text });
    }
  }
  flush();
  return out;
}

/**
 * Shorten text for a one-line description (code points, an ellipsis at the cut).
 * @param {string} text
 * @param {number} [max]
 * @returns {string}
 */
export function clip(text, max = 60) {
  const chars = [...String(text ?? "").replace(/\s+/g, " ").trim()];
  return chars.length > max ? `${chars.slice(0, max - 1).join("")}…` : chars.join("");
}
