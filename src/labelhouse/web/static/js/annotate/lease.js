// The page's lease on the task it shows: renewed while the page is open (a heartbeat, so
// the project's lease can be short) and given back as the page goes away (a beacon, so an
// abandoned task goes to someone else at once). Wiring in annotate.js; the timing is pure.

export const HEARTBEAT_MAX_MS = 60000;
export const HEARTBEAT_MIN_MS = 5000;

/**
 * How often to renew a lease of `seconds`: once a minute, and three times per term for
 * leases shorter than three minutes, so one lost beat never lets a lease run out.
 * @param {number|undefined} seconds the project's lease_seconds
 * @returns {number} milliseconds
 */
export function heartbeatMs(seconds) {
  if (!(seconds > 0)) return HEARTBEAT_MAX_MS;
  return Math.max(HEARTBEAT_MIN_MS, Math.min(HEARTBEAT_MAX_MS, Math.floor((seconds * 1000) / 3)));
}

/**
 * Give a lease back with `navigator.sendBeacon` (it outlives the page, but can only POST
 * and set no header: the CSRF token goes in the form body). `hold` names this page's hold
 * on the lease: if the lease was served again since (a reload of this page, another tab),
 * the server keeps it for that newer page.
 * @param {number} taskId
 * @param {string} csrf
 * @param {string|undefined} hold the `lease.hold` of the /next answer this page showed
 * @param {Navigator} [nav]
 * @returns {boolean} whether the browser queued it
 */
export function releaseByBeacon(taskId, csrf, hold, nav = globalThis.navigator) {
  const url = `/api/tasks/${taskId}/lease/release`;
  const body = new URLSearchParams({ csrf_token: csrf });
  if (hold) body.set("hold", hold);
  return typeof nav?.sendBeacon === "function" && nav.sendBeacon(url, body);
}

/**
 * Keeps the page's queue lease: renews it on a timer while the page is visible, gives it
 * back on `pagehide`, and reports when it was lost or when the page comes back from the
 * back/forward cache having given it back. The page decides what to show (callbacks).
 */
export class LeaseKeeper {
  /**
   * @param {object} o
   * @param {(taskId: number) => Promise<{lease_seconds: number}>} o.renew POST …/lease/renew
   * @param {(taskId: number, error: Error) => void} o.lost the lease ended behind the page's
   *   back (a renewal answered 404 or 409)
   * @param {(taskId: number) => void} o.back shown again from the back/forward cache after
   *   giving this task back
   * @param {(taskId: number) => boolean} o.ending a submission of this task is on its way:
   *   its lease ends with it, and a release overtaking it would make it a late submission
   * @param {() => string} o.csrf the session's CSRF token
   * @param {((taskId: number, csrf: string, hold: string|undefined, nav: Navigator) => boolean)|null} [o.release]
   *   gives the lease back as the page goes away (null: let it run out)
   * @param {Document} [o.doc]
   * @param {Window} [o.win]
   * @param {Navigator} [o.nav]
   */
  constructor({ renew, lost, back, ending, csrf, release = releaseByBeacon, doc = document, win = window, nav = globalThis.navigator }) {
    Object.assign(this, { renew, lost, back, ending, csrf, release, doc, nav });
    this.lease = null; // {taskId, seconds, hold}
    this.timer = 0;
    this.last = 0; // when the last renewal was sent
    this.released = null; // given back when the page went into the back/forward cache
    doc.addEventListener("visibilitychange", () => this.visible());
    win.addEventListener("pagehide", (e) => this.leaving(e));
    win.addEventListener("pageshow", (e) => this.shown(e));
  }

  /** @returns {number|null} the task this page holds a lease on */
  get taskId() {
    return this.lease ? this.lease.taskId : null;
  }

  /**
   * Hold the lease a /next answer carries (none when it has no task).
   * @param {{task: object|null, lease?: {seconds?: number, hold?: string}}} payload
   */
  hold(payload) {
    const lease = payload.lease;
    this.lease = payload.task ? { taskId: payload.task.id, seconds: lease?.seconds, hold: lease?.hold } : null;
    this.schedule(heartbeatMs(this.lease?.seconds));
  }

  /** The lease ended (submitted, skipped, refused): nothing to renew or give back. */
  drop() {
    this.lease = null;
    clearTimeout(this.timer);
    this.timer = 0;
  }

  schedule(delay) {
    clearTimeout(this.timer);
    this.timer = this.lease ? setTimeout(() => this.beat(), delay) : 0;
  }

  // Renew while the page is visible; a hidden page lets its lease run out (renewed on return).
  async beat() {
    clearTimeout(this.timer);
    this.timer = 0;
    const lease = this.lease;
    if (!lease) return;
    if (this.doc.visibilityState === "visible" && !this.ending(lease.taskId)) {
      this.last = Date.now();
      try {
        lease.seconds = (await this.renew(lease.taskId)).lease_seconds;
      } catch (error) {
        if (this.lease === lease && (error.status === 404 || error.status === 409)) {
          this.drop();
          this.lost(lease.taskId, error);
          return;
        }
        // offline or busy: the next beat tries again
      }
    }
    if (this.lease === lease) this.schedule(heartbeatMs(lease.seconds));
  }

  visible() {
    if (this.doc.visibilityState !== "visible" || !this.lease || this.timer === 0) return;
    if (Date.now() - this.last >= heartbeatMs(this.lease.seconds)) this.beat();
  }

  // Leaving the page (closing the tab, following a link, reloading) gives the task back at
  // once instead of after the lease; the hold keeps a reload's late beacon from taking the
  // lease the reloaded page was just served.
  leaving(event) {
    const lease = this.lease;
    if (!lease || !this.release || this.ending(lease.taskId)) return;
    if (!this.release(lease.taskId, this.csrf(), lease.hold, this.nav)) return;
    this.drop();
    if (event.persisted) this.released = lease.taskId; // the page may come back (bfcache)
  }

  shown(event) {
    if (!event.persisted || this.released === null) return;
    const released = this.released;
    this.released = null;
    this.back(released);
  }
}
