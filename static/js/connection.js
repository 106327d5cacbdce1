// The Socket.IO link to the server (docs/protocol.md): join or resume a session, receive
// snapshots and seq-numbered event batches, acknowledge them, send commands, re-sync.
// Knows nothing about the simulation: it hands payloads to the callbacks it is given.
import { io } from "/static/vendor/socket.io/socket.io.esm.min.js";
import { lang, t } from "./i18n.js";

const STORE_KEY = "amo.session";
const COMMAND_TIMEOUT_MS = 5000;

function loadSaved() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORE_KEY) || "null");
    return saved && typeof saved.session === "string" ? saved : null;
  } catch {
    return null;
  }
}

export class Connection {
  /**
   * @param {object} [options] commandTimeoutMs: how long a command waits for its answer
   *
   * open(handlers): handlers are onSnapshot(snap), onBatch(batch), onClock(clock),
   *   onState(state, detail) with state "connecting" | "connected" | "reconnecting" | "offline",
   *   onJoined(answer) with the join answer (presets, limits, fresh, resumed), onError(message)
   */
  constructor({ commandTimeoutMs = COMMAND_TIMEOUT_MS } = {}) {
    this.commandTimeoutMs = commandTimeoutMs;
    this.socket = null;
  }

  /** Connect, and from then on hand what the server sends to `handlers`. */
  open(handlers) {
    this.h = handlers;
    const saved = loadSaved();
    this.session = saved ? saved.session : null;
    this.run = null; // the server's run number (a new one per scenario, seed or reset)
    this.lastSeq = null; // highest seq applied in this page; null until a snapshot arrived
    this.joining = false;
    const query = this.ioQuery ? { query: this.ioQuery } : {};
    this.socket = io({ transports: ["websocket", "polling"], reconnectionDelayMax: 2000, ...query });
    this.socket.on("connect", () => this.join());
    this.socket.on("disconnect", (reason) => {
      this.h.onState(reason === "io client disconnect" ? "offline" : "reconnecting", reason);
    });
    this.socket.io.on("reconnect_attempt", (n) => this.h.onState("reconnecting", `attempt ${n}`));
    this.socket.on("connect_error", () => this.h.onState("reconnecting", "server unreachable"));
    this.socket.on("snapshot", (snap) => this.receiveSnapshot(snap));
    this.socket.on("events", (batch) => this.receiveBatch(batch));
    this.socket.on("clock", (clock) => {
      if (typeof clock.run === "number" && this.run !== null && clock.run !== this.run) return;
      this.h.onClock(clock);
    });
    // Another tab took this session over (a duplicated tab shares its sessionStorage):
    // this tab starts a session of its own.
    this.socket.on("detached", () => {
      this.session = null;
      this.run = null;
      this.lastSeq = null;
      this.join();
    });
    this.socket.on("error", (payload) => this.h.onError(describeError(payload && payload.error)));
    this.h.onState("connecting");
  }

  // Fresh page: ask for a snapshot of our session (if it still exists) or a new one.
  // Same page after a blip: ask for the batches we missed since lastSeq.
  join() {
    this.joining = true;
    const payload = { session: this.session, last_seq: this.lastSeq, run: this.lastSeq === null ? null : this.run };
    this.socket.timeout(COMMAND_TIMEOUT_MS).emit("join", payload, (err, answer) => {
      this.joining = false;
      if (err) {
        // No answer: the join may or may not have reached the server. Joining again is
        // safe (a session the first join made, if any, waits out its grace and goes).
        this.h.onError(t("error.join-no-answer"));
        if (this.socket.connected) setTimeout(() => this.socket.connected && !this.joining && this.join(), 1000);
        return;
      }
      if (!answer || !answer.ok) {
        this.h.onError(t("error.join-refused", { error: describeError(answer && answer.error) }));
        return;
      }
      if (answer.session !== this.session) {
        // We had a session and the server made another: it no longer knew ours (it was
        // restarted, or the run expired while this page was away).
        if (this.session) this.replaced = true;
        this.session = answer.session;
        this.lastSeq = null; // a new session: only its snapshot is valid
        this.run = null;
      }
      answer.replaced = Boolean(this.replaced);
      this.replaced = false;
      this.save();
      this.h.onState("connected", answer.resumed ? "resumed" : "joined");
      if (this.h.onJoined) this.h.onJoined(answer);
    });
  }

  /** Ask for a snapshot of the session as it is (after a command went unanswered). */
  resync() {
    this.lastSeq = null; // a batch that arrives before the snapshot cannot be placed
    this.run = null;
    if (this.socket.connected) this.join(); // else the next connect joins without last_seq
  }

  save() {
    try {
      sessionStorage.setItem(STORE_KEY, JSON.stringify({ session: this.session, run: this.run, last_seq: this.lastSeq }));
    } catch {
      /* private mode: resume within the page still works */
    }
  }

  receiveSnapshot(snap) {
    if (snap.session && snap.session !== this.session) {
      // The snapshot of a join comes before its answer: a session we did not have means
      // the server no longer knew ours; the answer says so (onJoined's answer.replaced).
      if (this.session) this.replaced = true;
      this.session = snap.session;
    }
    if (typeof snap.run === "number") this.run = snap.run;
    this.lastSeq = snap.seq;
    this.save();
    this.h.onSnapshot(snap);
    this.ack(snap.seq);
  }

  receiveBatch(batch) {
    if (this.lastSeq === null) return; // no snapshot yet: the batch cannot be placed
    if (typeof batch.run === "number" && this.run !== null && batch.run !== this.run) return; // an old run
    if (batch.to_seq <= this.lastSeq) return; // already have it (resume overlap)
    if (batch.from_seq > this.lastSeq + 1) {
      // A gap: re-join from what we have; the server resends what we missed.
      if (!this.joining) this.join();
      return;
    }
    let events = batch.events;
    if (batch.from_seq <= this.lastSeq) events = events.filter((e) => e.seq > this.lastSeq);
    this.lastSeq = batch.to_seq;
    this.h.onBatch({ ...batch, events });
    this.ack(batch.to_seq);
    this.saveSoon();
  }

  ack(seq) {
    this.socket.emit("ack", this.run === null ? { seq } : { seq, run: this.run }, () => {});
  }

  saveSoon() {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null;
      this.save();
    }, 250);
  }

  /**
   * Send a command; resolves with the answer ({ok, ...}), never rejects. A command that
   * was sent but got no answer in time resolves with `indefinite: true`: it may or may
   * not have been applied. One not sent (not connected) was definitely not applied.
   */
  command(cmd, fields = {}) {
    return new Promise((resolve) => {
      if (!this.socket.connected) {
        resolve({ ok: false, error: { code: "not-connected", message: t("error.not-connected") } });
        return;
      }
      this.socket.timeout(this.commandTimeoutMs).emit("command", { cmd, ...fields }, (err, answer) => {
        if (err) resolve({ ok: false, indefinite: true, error: { code: "no-answer", message: t("error.no-answer") } });
        else resolve(answer || { ok: false, error: { code: "empty-answer", message: t("error.empty-answer") } });
      });
    });
  }
}

/** An error in words. The server's errors carry {field, value, allowed, message}: in
 * English its message is shown as it is; in another language the sentence around them is
 * the catalogue's (what is allowed stays in the server's words, English). */
export function describeError(error) {
  if (!error) return t("error.unknown");
  if (error.field === "server" && !error.allowed) return t("error.server");
  if (lang !== "en" && typeof error.field === "string" && typeof error.allowed === "string") {
    const value = typeof error.value === "string" ? JSON.stringify(error.value) : String(error.value);
    return t("error.field", { field: error.field, value, allowed: error.allowed });
  }
  return error.message || JSON.stringify(error);
}
