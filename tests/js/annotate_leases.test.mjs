// The annotate page's submission keys and lease timing, run with `node --test tests/js/`.
import assert from "node:assert/strict";
import { test } from "node:test";

import { LeaseKeeper, heartbeatMs, releaseByBeacon } from "../../src/labelhouse/web/static/js/annotate/lease.js";
import { newKey, stableJson, submissionFor } from "../../src/labelhouse/web/static/js/annotate/submission.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test("keys: randomUUID where the page has it, a v4 UUID from getRandomValues elsewhere", () => {
  assert.equal(newKey({ randomUUID: () => "from-randomUUID" }), "from-randomUUID");
  const plainHttp = { getRandomValues: (a) => a.fill(0xff) }; // no randomUUID off https
  assert.match(newKey(plainHttp), UUID);
  assert.equal(newKey(plainHttp), "ffffffff-ffff-4fff-bfff-ffffffffffff");
  const keys = new Set(Array.from({ length: 50 }, () => newKey({ getRandomValues: (a) => globalThis.crypto.getRandomValues(a) })));
  assert.equal(keys.size, 50);
});

test("a retry of the same answer is the same submission: key, body and lead time", () => {
  let n = 0;
  const key = () => `k${++n}`;
  let spent = 1000;
  const first = submissionFor(null, 7, { label: "pos", tags: ["a"] }, () => spent, key);
  assert.deepEqual(first, { taskId: 7, key: "k1", body: { value: { label: "pos", tags: ["a"] }, lead_time_ms: 1000 } });
  spent = 5000; // retried later: the lead time is not counted again
  const retry = submissionFor(first, 7, { tags: ["a"], label: "pos" }, () => spent, key);
  assert.equal(retry, first);
  const changed = submissionFor(first, 7, { label: "neg", tags: ["a"] }, () => spent, key);
  assert.deepEqual([changed.key, changed.body.lead_time_ms], ["k2", 5000]);
  const otherTask = submissionFor(first, 8, { label: "pos", tags: ["a"] }, () => spent, key);
  assert.equal(otherTask.key, "k3");
});

test("stableJson ignores key order and keeps array order", () => {
  assert.equal(stableJson({ b: 1, a: { d: [2, 1], c: null } }), '{"a":{"c":null,"d":[2,1]},"b":1}');
  assert.notEqual(stableJson([1, 2]), stableJson([2, 1]));
});

test("heartbeat: once a minute, three times per term for short leases", () => {
  assert.equal(heartbeatMs(600), 60000);
  assert.equal(heartbeatMs(1800), 60000);
  assert.equal(heartbeatMs(90), 30000);
  assert.equal(heartbeatMs(30), 10000);
  assert.equal(heartbeatMs(3), 5000);
  assert.equal(heartbeatMs(undefined), 60000);
});

test("the release beacon posts the CSRF token and the page's hold as form fields", () => {
  const sent = [];
  const nav = { sendBeacon: (url, body) => { sent.push([url, body.toString()]); return true; } };
  assert.equal(releaseByBeacon(12, "t&k=n", "40.3", nav), true);
  assert.deepEqual(sent, [["/api/tasks/12/lease/release", "csrf_token=t%26k%3Dn&hold=40.3"]]);
  assert.equal(releaseByBeacon(12, "t", undefined, nav), true); // an older server: no hold
  assert.deepEqual(sent[1], ["/api/tasks/12/lease/release", "csrf_token=t"]);
  assert.equal(releaseByBeacon(12, "t", "1.0", {}), false); // no sendBeacon: nothing to do
});

class FakeTarget {
  constructor() { this.handlers = {}; this.visibilityState = "visible"; }
  addEventListener(name, fn) { this.handlers[name] = fn; }
  fire(name, event = {}) { this.handlers[name](event); }
}

function keeper(renewAnswers, extra = {}) {
  const doc = new FakeTarget();
  const win = new FakeTarget();
  const log = { renewed: [], lost: [], back: [], beacons: [] };
  const nav = { sendBeacon: (url, body) => { log.beacons.push([url, body.toString()]); return true; } };
  let sending = null;
  const k = new LeaseKeeper({
    renew: async (id) => { log.renewed.push(id); const a = renewAnswers.shift(); if (a instanceof Error) throw a; return a; },
    lost: (id, error) => log.lost.push([id, error.message]),
    back: (id) => log.back.push(id),
    ending: (id) => id === sending,
    csrf: () => "tok",
    doc, win, nav, ...extra,
  });
  return { k, doc, win, log, submitting: (id) => { sending = id; } };
}

const ended = (status, message) => Object.assign(new Error(message), { status });

test("lease keeper: renews while visible, reports a lost lease, skips hidden pages", async () => {
  const { k, doc, log } = keeper([{ lease_seconds: 90 }, ended(409, "expired")]);
  k.hold({ task: { id: 5 }, lease: { seconds: 600, new: true } });
  assert.equal(k.taskId, 5);
  await k.beat();
  assert.deepEqual(log.renewed, [5]);
  assert.equal(k.lease.seconds, 90); // the project's term now: beats come every 30 s
  doc.visibilityState = "hidden";
  await k.beat();
  assert.deepEqual(log.renewed, [5]); // a hidden page lets its lease run out
  doc.visibilityState = "visible";
  await k.beat();
  assert.deepEqual(log.lost, [[5, "expired"]]);
  assert.equal(k.taskId, null);
  k.drop();
});

test("lease keeper: gives the lease back on leaving, naming its hold, not while its submission is on its way", () => {
  const { k, win, log, submitting } = keeper([]);
  k.hold({ task: { id: 8 }, lease: { seconds: 600, new: true, hold: "31.2" } });
  submitting(8);
  win.fire("pagehide", { persisted: false });
  assert.deepEqual(log.beacons, []);
  submitting(null);
  win.fire("pagehide", { persisted: true }); // into the back/forward cache
  assert.deepEqual(log.beacons, [["/api/tasks/8/lease/release", "csrf_token=tok&hold=31.2"]]);
  assert.equal(k.taskId, null);
  win.fire("pageshow", { persisted: true });
  assert.deepEqual(log.back, [8]); // shown again: the page claims work again
  win.fire("pageshow", { persisted: true });
  assert.deepEqual(log.back, [8]);
  k.hold({ task: null }); // "all done": nothing held, nothing to give back
  win.fire("pagehide", { persisted: false });
  assert.equal(log.beacons.length, 1);
});

test("lease keeper without a release (the review page): leaving sends no beacon and keeps the lease", () => {
  const { k, win, log } = keeper([], { release: null });
  k.hold({ task: { id: 9 }, lease: { seconds: 600 } });
  win.fire("pagehide", { persisted: false });
  assert.deepEqual(log.beacons, []);
  assert.equal(k.taskId, 9);
  k.drop();
});
