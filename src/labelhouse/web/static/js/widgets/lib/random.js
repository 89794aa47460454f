// Seeded shuffling, so a task's display order is random across tasks (fighting position
// bias) but stable for one task: reloading, or reopening it from history, shows the same
// order. Pure; tested with `node --test`.

/**
 * 32-bit FNV-1a hash of a string.
 * @param {string} text
 * @returns {number} unsigned 32-bit integer
 */
export function hashString(text) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/**
 * mulberry32: a small, good-enough PRNG returning floats in [0, 1).
 * @param {number} seed
 * @returns {() => number}
 */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A permutation of 0..n-1 determined by `seed` (Fisher–Yates).
 * @param {number} n
 * @param {string} seed e.g. `${task.id}:${field.name}`
 * @returns {number[]} display position → original index
 */
export function seededOrder(n, seed) {
  const order = Array.from({ length: n }, (_, i) => i);
  const random = mulberry32(hashString(seed));
  for (let i = n - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}
