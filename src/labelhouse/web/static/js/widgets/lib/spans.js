// Pure span logic for the spans widget: offsets, segments, overlap rules. No DOM; tested
// with `node --test`.
//
// Two offset systems meet here. The server stores Python `str` indices — Unicode code
// points — while JavaScript strings (and the DOM's Range offsets) count UTF-16 code units,
// so "😀" is one character to the server and two to the browser. The widget works in UTF-16
// internally and converts at the edges with {@link offsetConverter}.

const WORD = /[\p{L}\p{N}_]/u;
const SPACE = /\s/u;

/**
 * Converters between code-point offsets (stored) and UTF-16 offsets (browser).
 * @param {string} text
 * @returns {{toUtf16: (cp: number) => number, toCodePoint: (u16: number) => number}}
 */
export function offsetConverter(text) {
  if (!/[\uD800-\uDFFF]/.test(text)) return { toUtf16: (cp) => cp, toCodePoint: (u16) => u16 };
  const u16ByCp = [];
  const cpByU16 = new Array(text.length + 1);
  let u16 = 0;
  for (const ch of text) {
    u16ByCp.push(u16);
    for (let k = 0; k < ch.length; k += 1) cpByU16[u16 + k] = u16ByCp.length - 1;
    u16 += ch.length;
  }
  u16ByCp.push(u16);
  cpByU16[text.length] = u16ByCp.length - 1;
  return {
    toUtf16: (cp) => u16ByCp[Math.max(0, Math.min(cp, u16ByCp.length - 1))],
    toCodePoint: (i) => cpByU16[Math.max(0, Math.min(i, text.length))],
  };
}

function isLowSurrogate(text, i) {
  const c = text.charCodeAt(i);
  return c >= 0xdc00 && c <= 0xdfff;
}

/**
 * A selection cleaned up the way annotators expect: surrounding whitespace trimmed and the
 * ends moved off the middle of surrogate pairs.
 * @param {string} text
 * @param {number} start UTF-16 offset
 * @param {number} end UTF-16 offset (exclusive)
 * @returns {{start: number, end: number}} empty (start === end) if nothing is left
 */
export function cleanRange(text, start, end) {
  let s = Math.max(0, Math.min(start, end));
  let e = Math.min(text.length, Math.max(start, end));
  if (s > 0 && isLowSurrogate(text, s)) s -= 1;
  if (e < text.length && isLowSurrogate(text, e)) e += 1;
  while (s < e && SPACE.test(text[s])) s += 1;
  while (e > s && SPACE.test(text[e - 1])) e -= 1;
  return { start: s, end: e };
}

/**
 * Move a caret by one character (a whole surrogate pair counts as one).
 * @param {string} text
 * @param {number} pos UTF-16 offset
 * @param {number} dir -1 or +1
 * @returns {number}
 */
export function charStep(text, pos, dir) {
  let p = Math.max(0, Math.min(text.length, pos + dir));
  if (p > 0 && p < text.length && isLowSurrogate(text, p)) p += dir;
  return p;
}

/**
 * Move a caret to the next word edge (like Ctrl+→ / Ctrl+← in an editor).
 * @param {string} text
 * @param {number} pos UTF-16 offset
 * @param {number} dir -1 or +1
 * @returns {number}
 */
export function wordStep(text, pos, dir) {
  let p = pos;
  if (dir > 0) {
    while (p < text.length && !WORD.test(text[p])) p += 1;
    while (p < text.length && WORD.test(text[p])) p += 1;
  } else {
    while (p > 0 && !WORD.test(text[p - 1])) p -= 1;
    while (p > 0 && WORD.test(text[p - 1])) p -= 1;
  }
  return p;
}

/**
 * Sort spans the way the server stores them: by start, end, then label.
 * @param {Array<{start: number, end: number, label: string}>} spans
 * @returns {Array<{start: number, end: number, label: string}>} a new array
 */
export function sortSpans(spans) {
  return [...spans].sort((a, b) => a.start - b.start || a.end - b.end || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
}

/**
 * Add a span unless the field's rules forbid it.
 * @param {Array<{start: number, end: number, label: string}>} spans current spans
 * @param {{start: number, end: number, label: string}} span
 * @param {boolean} allowOverlap the field's `allow_overlap`
 * @returns {{spans: Array, error: null|{reason: "duplicate"|"overlap", other: object}}}
 */
export function addSpan(spans, span, allowOverlap) {
  const same = spans.find((s) => s.start === span.start && s.end === span.end && s.label === span.label);
  if (same) return { spans, error: { reason: "duplicate", other: same } };
  if (!allowOverlap) {
    const other = spans.find((s) => s.start < span.end && span.start < s.end);
    if (other) return { spans, error: { reason: "overlap", other } };
  }
  return { spans: sortSpans([...spans, span]), error: null };
}

/**
 * The innermost (shortest) span covering a position, or -1.
 * @param {Array<{start: number, end: number}>} spans
 * @param {number} pos UTF-16 offset of a character
 * @returns {number} index into `spans`
 */
export function spanAt(spans, pos) {
  let best = -1;
  spans.forEach((s, i) => {
    if (s.start <= pos && pos < s.end && (best < 0 || s.end - s.start < spans[best].end - spans[best].start)) best = i;
  });
  return best;
}

/**
 * Cut the text into runs that are covered by the same spans, for drawing marks.
 * @param {number} length text length (UTF-16)
 * @param {Array<{start: number, end: number}>} spans
 * @param {{start: number, end: number}|null} pending the current unlabelled selection
 * @param {number[]} [extraCuts] more positions to cut at (e.g. the keyboard caret)
 * @returns {Array<{start: number, end: number, covers: number[], pending: boolean}>}
 *   `covers` lists indices into `spans`, outermost (longest) first
 */
export function segments(length, spans, pending = null, extraCuts = []) {
  const cuts = new Set([0, length, ...extraCuts]);
  for (const s of spans) { cuts.add(s.start); cuts.add(s.end); }
  if (pending && pending.end > pending.start) { cuts.add(pending.start); cuts.add(pending.end); }
  const points = [...cuts].filter((p) => p >= 0 && p <= length).sort((a, b) => a - b);
  const out = [];
  for (let i = 0; i + 1 < points.length; i += 1) {
    const start = points[i];
    const end = points[i + 1];
    const covers = spans
      .map((s, idx) => ({ s, idx }))
      .filter(({ s }) => s.start <= start && s.end >= end)
      .sort((a, b) => (b.s.end - b.s.start) - (a.s.end - a.s.start))
      .map(({ idx }) => idx);
    const inPending = Boolean(pending && pending.start <= start && pending.end >= end && pending.end > pending.start);
    out.push({ start, end, covers, pending: inPending });
  }
  return out;
}
