// One submission, sent once: the Idempotency-Key that makes a retry of it safe. Pure (the
// random source is passed in); tested with `node --test`.

/**
 * A new random key (a UUID v4). `crypto.randomUUID` exists only on https and localhost
 * pages; `getRandomValues` everywhere, so a plain-http intranet install works too.
 * @param {Crypto} [c]
 * @returns {string}
 */
export function newKey(c = globalThis.crypto) {
  if (typeof c.randomUUID === "function") return c.randomUUID();
  const b = c.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; // version 4
  b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** JSON with object keys sorted, so two equal values give the same text. */
export function stableJson(value) {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (value && typeof value === "object") {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stableJson(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

/**
 * The submission to send: the previous one again — same key, same body, lead time included —
 * while it is a retry of it (same task, same answer), else a new one with a new key. A
 * server that stored the first attempt then answers the retry without saving twice.
 * @param {{taskId: number, key: string, body: object}|null} previous
 * @param {number} taskId
 * @param {object} value the answer, field name → value
 * @param {() => number} leadTimeMs time spent, read only for a new submission
 * @param {() => string} [makeKey]
 * @returns {{taskId: number, key: string, body: {value: object, lead_time_ms: number}}}
 */
export function submissionFor(previous, taskId, value, leadTimeMs, makeKey = newKey) {
  if (previous && previous.taskId === taskId && stableJson(previous.body.value) === stableJson(value)) {
    return previous;
  }
  return { taskId, key: makeKey(), body: { value, lead_time_ms: leadTimeMs() } };
}
