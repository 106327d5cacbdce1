// Rooms (issue 13, docs/rooms.md): a presenter leads, a room of browsers follows.
// The presenter's page starts a room (Start a room) and shows its join link large, with a
// QR code and a short code; the control token stays in this tab (sessionStorage). A page
// opened at /room/<token> follows: it joins the room instead of a session (the same
// snapshots, batches and clocks as the presenter's page, so the same stage), its commands
// are refused by the server (said here), and Take it from here makes the moment shown a
// run of its own. Predict polls: the presenter asks, followers answer, the presenter
// reveals the counts. A small generic room state (e.g. the lesson step) goes from the
// presenter's page to the followers' through publish() / onState().
import { describeError } from "./connection.js";
import { has, t, tn } from "./i18n.js";

const ROOM_KEY = "amo.room"; // the presenter's room: {room, control, code}
const FOLLOWER_KEY = "amo.follower"; // this tab's follower id (one answer per poll)
const ANSWER_KEY = "amo.room.answer"; // {poll, choice} the follower gave
const JOIN_TIMEOUT_MS = 5000;

function load(key) {
  try {
    return JSON.parse(sessionStorage.getItem(key) || "null");
  } catch {
    return null;
  }
}

function store(key, value) {
  try {
    if (value === null) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, JSON.stringify(value));
  } catch {
    /* private mode: this tab only */
  }
}

/** The room this page follows (its path is /room/<token>), or null. */
export function followedRoom() {
  const m = /^\/room\/([^/]+)\/?$/.exec(window.location.pathname);
  return m ? decodeURIComponent(m[1]) : null;
}

function followerId() {
  let id = load(FOLLOWER_KEY);
  if (typeof id !== "string") {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    id = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    store(FOLLOWER_KEY, id);
  }
  return id;
}

/** The page's connection: a Connection, or one that follows a room (path /room/<token>). */
export function roomConnection(Connection) {
  const token = followedRoom();
  if (!token) return new Connection();

  class FollowConnection extends Connection {
    constructor() {
      super();
      this.following = true;
      // The server offers a follower's socket no compression: a room's batches would be
      // compressed once per follower (server/transport.py, FollowersWithoutDeflate).
      this.ioQuery = { follow: "1" };
      this.room = token;
      this.follower = followerId();
      this.onRoomJoined = null; // (answer)
      this.onRoomError = null; // (error)
      this.onRefused = null; // (answer) a command the server refused: we follow
    }

    join() {
      if (!this.following) {
        super.join();
        return;
      }
      this.joining = true;
      const payload = {
        room: this.room, last_seq: this.lastSeq, run: this.lastSeq === null ? null : this.run, follower: this.follower,
      };
      this.socket.timeout(JOIN_TIMEOUT_MS).emit("room-join", payload, (err, answer) => {
        this.joining = false;
        if (err) {
          this.h.onError(t("room.join-no-answer"));
          if (this.socket.connected) setTimeout(() => this.socket.connected && !this.joining && this.join(), 1000);
          return;
        }
        if (!answer || !answer.ok) {
          if (this.onRoomError) this.onRoomError(answer && answer.error);
          this.h.onError(describeError(answer && answer.error));
          return;
        }
        this.h.onState("connected", answer.resumed ? "resumed" : "joined");
        if (this.onRoomJoined) this.onRoomJoined(answer);
        this.h.onJoined(answer);
      });
    }

    save() {
      if (!this.following) super.save();
    }

    async command(cmd, fields = {}) {
      const answer = await super.command(cmd, fields);
      if (this.following && !answer.ok && answer.error && answer.error.field === "room" && this.onRefused) this.onRefused(answer);
      return answer;
    }
  }
  return new FollowConnection();
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else if (k === "hidden") node.hidden = Boolean(v);
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

/** Ask the server (an event with an answer); resolves with the answer, never rejects. */
function ask(conn, event, payload) {
  return new Promise((resolve) => {
    if (!conn.socket || !conn.socket.connected) {
      resolve({ ok: false, error: { message: t("room.offline") } });
      return;
    }
    conn.socket.timeout(JOIN_TIMEOUT_MS).emit(event, payload, (err, answer) => {
      resolve(err ? { ok: false, indefinite: true, error: { message: t("room.no-answer") } } : answer);
    });
  });
}

/** A poll's counts as bars (the projector's view, and the followers' after reveal). */
function drawCounts(box, poll) {
  box.textContent = "";
  const counts = poll.counts || poll.choices.map(() => 0);
  const total = counts.reduce((a, b) => a + b, 0) || 1;
  poll.choices.forEach((choice, i) => {
    const row = el("div", { class: "room-count-row" });
    const bar = el("span", { class: "room-count-bar" });
    bar.style.width = `${Math.round((100 * counts[i]) / total)}%`;
    row.append(el("span", { class: "room-count-label", text: choice }), el("span", { class: "room-count-track" }, bar),
      el("span", { class: "room-count-n", "data-choice": String(i), text: tn("room.votes", counts[i]) }));
    box.append(row);
  });
}

export class Room {
  /**
   * @param {object} o conn (from roomConnection), notice, announcer (the status line),
   *   share (its address bar stays still while following), header (where the buttons go)
   */
  constructor({ conn, notice, announcer, share, header }) {
    Object.assign(this, { conn, notice, announcer, share, header });
    this.info = null; // the presenter's room: {room, control, code, link, ...}
    this.poll = null;
    this.state = null; // the room state the presenter published (followers)
    this.stateListeners = [];
    this.build();
    const socket = conn.socket;
    socket.on("room-status", (s) => this.onStatus(s));
    socket.on("room-poll", (m) => this.onPoll(m.poll));
    socket.on("room-ended", (m) => this.onEnded(m));
    socket.on("room-presenter", (m) => this.onPresenter(m));
    socket.on("room-adopted", (m) => this.onAdopted(m));
    socket.on("room-state", (m) => this.setState(m.state));
    this.lessonState = null; // the presenter's lesson step, as last published
    this.publishing = Promise.resolve(); // room-state in order, one after the other
    if (conn.following) this.follow();
    else this.lead();
    this.wireLessons(window.amo && window.amo.lessons);
  }

  // ------------------------------------------------------------ the lesson player
  /** The lesson step is the room's: the presenter's page publishes it ({lesson, step,
   * revealed, right}); a follower's page shows it read-only (lessons.js follow), its Back
   * and Next hidden with a note, until it takes the run. A prediction step becomes a
   * poll with one button (Ask the room), revealed with the lesson's own reveal. */
  wireLessons(lessons) {
    if (!lessons) return;
    this.lessons = lessons;
    const els = lessons.els;
    if (this.conn.following) {
      lessons.led = true;
      els.button.hidden = true;
      document.body.dataset.lessonLed = "true";
      this.ledNote = el("p", { id: "lesson-led", class: "lesson-led", text: t("room.lesson-led") });
      els.next.parentElement.prepend(this.ledNote);
      this.onState((s) => s && "lesson" in s && lessons.led && lessons.follow(s));
      return;
    }
    this.lessonPollBtn = el("button", { type: "button", id: "lesson-poll", class: "lesson-poll", hidden: true, text: t("room.lesson-poll") });
    this.lessonPollStatus = el("p", { id: "lesson-poll-status", class: "lesson-poll-status", "aria-live": "polite", hidden: true });
    this.lessonCounts = el("div", { id: "lesson-poll-counts", class: "room-counts", hidden: true });
    this.lessonPollBtn.addEventListener("click", () => this.askLesson());
    els.form.append(this.lessonPollBtn, this.lessonPollStatus, this.lessonCounts);
    lessons.onMove = (state) => {
      this.lessonState = state;
      this.publishLesson();
      const p = this.lessonPoll;
      if (state.revealed && p && p.lesson === state.lesson && p.step === state.step && this.poll && this.poll.id === p.id && !this.poll.revealed) {
        ask(this.conn, "room-reveal", { room: this.info.room, control: this.info.control }).then((a) => a.ok && this.onPoll(a.poll));
      }
      this.showLessonPoll();
    };
  }

  publishLesson() {
    const state = this.lessonState;
    if (!this.info || !state) return;
    this.publishing = this.publishing.then(() => this.publish(state));
  }

  /** This step's poll: the button while the question is open, then answers and counts. */
  showLessonPoll() {
    if (!this.lessonPollBtn) return;
    const L = this.lessons;
    const step = L.lesson && L.lesson.steps[L.index];
    const p = this.lessonPoll;
    const mine = p && L.lesson && p.lesson === L.lesson.id && p.step === L.index + 1 && this.poll && this.poll.id === p.id ? this.poll : null;
    this.lessonPollBtn.hidden = !this.info || !step || !step.predict || L.revealed || Boolean(mine);
    this.lessonPollStatus.hidden = !mine || mine.revealed;
    this.lessonCounts.hidden = !mine || !mine.revealed;
    if (mine && mine.revealed) drawCounts(this.lessonCounts, mine);
  }

  async askLesson() {
    const L = this.lessons;
    const step = L.lesson && L.lesson.steps[L.index];
    if (!this.info || !step || !step.predict) return;
    const key = `lesson.${L.lesson.id}.${L.index + 1}`;
    const fit = (s, n) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
    const a = await ask(this.conn, "room-poll", {
      room: this.info.room, control: this.info.control, question: fit(t(`${key}.question`), 200),
      choices: step.predict.choices.map((c) => fit(t(`${key}.choice.${c.id}`), 80)),
    });
    if (!a.ok) {
      this.notice.show(t("room.lesson-poll-failed"), [describeError(a.error)]);
      return;
    }
    this.lessonPoll = { lesson: L.lesson.id, step: L.index + 1, id: a.poll.id };
    this.onPoll(a.poll);
    this.lessonPollStatus.textContent = tn("room.poll-answered", 0);
    this.announcer.say(t("room.lesson-polled"));
  }

  // ------------------------------------------------------------ the page's parts
  build() {
    const header = this.header;
    const anchor = header.querySelector("#present");
    // A long and a short label: the top bar on a projector shows the short one (app.css).
    const label = (long, short) => [el("span", { class: "long", text: long }), el("span", { class: "short", text: short })];
    this.startBtn = el("button", { type: "button", id: "room-start", class: "bar-btn", "aria-label": t("room.start") },
      el("span", { "aria-hidden": "true", text: "◎ " }), ...label(t("room.start"), t("room.start-short")));
    this.joinBtn = el("button", { type: "button", id: "room-join-open", class: "bar-btn", "aria-label": t("room.join-open") },
      ...label(t("room.join-open"), t("room.join-short")));
    (anchor ? anchor.parentElement : header).insertBefore(this.joinBtn, anchor ? anchor.nextSibling : null);
    this.joinBtn.parentElement.insertBefore(this.startBtn, this.joinBtn);
    this.startBtn.addEventListener("click", () => this.start());
    this.joinBtn.addEventListener("click", () => this.openJoin());

    // The join dialog: a typed code.
    this.codeInput = el("input", { id: "room-code", name: "room-code", autocomplete: "off", autocapitalize: "characters", spellcheck: "false", maxlength: "12" });
    this.codeError = el("p", { id: "room-code-error", class: "room-error", role: "alert" });
    const form = el("form", { method: "dialog", class: "room-join-form" },
      el("h2", { id: "room-join-h", text: t("room.join-title") }),
      el("label", { class: "field" }, t("room.code-input"), this.codeInput), this.codeError,
      el("div", { class: "room-actions" },
        el("button", { type: "submit", id: "room-join-go", class: "bar-btn", text: t("room.join-go") }),
        el("button", { type: "button", id: "room-join-cancel", class: "bar-btn", text: t("room.cancel") })));
    this.joinDialog = el("dialog", { id: "room-join-dialog", class: "room-dialog", "aria-labelledby": "room-join-h" }, form);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.joinByCode();
    });
    form.querySelector("#room-join-cancel").addEventListener("click", () => this.joinDialog.close());
    document.body.append(this.joinDialog);

    // The presenter's panel: link, QR code, code, followers, poll, end.
    this.panel = el("section", { id: "room-panel", class: "room-panel", "aria-labelledby": "room-panel-h", hidden: true });
    document.body.append(this.panel);
    // The follower's banner: read-only, Take it from here, the poll to answer.
    this.banner = el("section", { id: "room-banner", class: "room-banner", "aria-label": t("room.banner-label"), hidden: true });
    const main = document.querySelector("main") || document.body;
    main.parentElement.insertBefore(this.banner, main);
  }

  // ------------------------------------------------------------ presenter
  lead() {
    const saved = load(ROOM_KEY);
    if (saved && saved.room && saved.control) this.info = saved;
    // After each join (the page's session first), a page that leads a room (started now or
    // before a reload) presents its control token again: a reconnect gets the presenter's
    // sockets back, and a server whose presenter's process died takes the room over into
    // this session (docs/rooms.md).
    const present = () => {
      const info = this.info;
      if (info && info.room && info.control) this.present({ room: info.room, control: info.control, code: info.code });
    };
    const joined = this.conn.h.onJoined;
    this.conn.h.onJoined = (answer) => {
      if (joined) joined(answer);
      present();
    };
    if (this.conn.socket.connected && this.conn.session && !this.conn.joining) present();
  }

  async present(saved) {
    const a = await ask(this.conn, "room-present", { room: saved.room, control: saved.control });
    if (a.ok) {
      this.info = { ...saved, ...a, control: saved.control };
      this.showRoomButton();
      if (a.poll) this.onPoll(a.poll);
      this.publishLesson();
      if (a.adopted) this.onAdopted(a);
    } else if (!a.indefinite) {
      store(ROOM_KEY, null);
      this.info = null;
      this.showRoomButton();
    }
  }

  /** The server that ran this page's room had stopped; the one this page reconnected to
   * rebuilt its run from the room's record and leads it (docs/rooms.md). */
  onAdopted(a) {
    if (!this.info || a.room !== this.info.room) return;
    this.info = { ...this.info, ...a, control: this.info.control };
    this.showRoomButton();
    this.notice.hide();
    this.announcer.say(t("room.adopted", { code: this.info.code }));
  }

  async start() {
    if (this.info) {
      this.openPanel();
      return;
    }
    const a = await ask(this.conn, "room-start", {});
    if (!a.ok) {
      this.notice.show(t("room.start-failed"), [describeError(a.error)]);
      return;
    }
    const control = a.control || (load(ROOM_KEY) || {}).control;
    this.info = { ...a, control };
    store(ROOM_KEY, { room: a.room, control, code: a.code });
    this.showRoomButton();
    this.openPanel();
    this.publishLesson();
    this.showLessonPoll();
    this.announcer.say(t("room.started", { code: a.code }));
  }

  showRoomButton() {
    const label = this.startBtn.lastChild;
    if (this.info) {
      label.textContent = t("room.button", { code: this.info.code, n: this.info.followers || 0 });
      this.startBtn.classList.add("room-on");
    } else {
      label.textContent = t("room.start");
      this.startBtn.classList.remove("room-on");
    }
  }

  joinLink() {
    return `${window.location.origin}/room/${this.info.room}`;
  }

  openPanel() {
    const info = this.info;
    const p = this.panel;
    p.textContent = "";
    this.countEl = el("p", { id: "room-count", class: "room-count", "aria-live": "polite", text: tn("room.following", info.followers || 0) });
    const qr = el("img", { id: "room-qr", class: "room-qr", src: `/room/${info.room}/qr.svg`, alt: t("room.qr-alt"), width: "320", height: "320" });
    const link = el("a", { id: "room-link", class: "room-link", href: this.joinLink(), target: "_blank", rel: "noopener", text: this.joinLink() });
    const hide = el("button", { type: "button", id: "room-hide", class: "bar-btn", text: t("room.hide") });
    const end = el("button", { type: "button", id: "room-end", class: "bar-btn room-danger", text: t("room.end") });
    hide.addEventListener("click", () => (p.hidden = true));
    end.addEventListener("click", () => this.end());
    p.append(
      el("div", { class: "room-panel-head" }, el("h2", { id: "room-panel-h", text: t("room.panel-title") }), hide),
      el("div", { class: "room-join-info" }, qr, el("div", { class: "room-join-text" },
        el("p", { class: "room-label", text: t("room.code-label") }), el("p", { id: "room-code-shown", class: "room-code", text: info.code }),
        el("p", { class: "room-label", text: t("room.link-label") }), link, this.countEl)),
      this.pollEditor(),
      el("div", { class: "room-actions" }, end));
    p.hidden = false;
    if (this.poll) this.onPoll(this.poll);
  }

  pollEditor() {
    const box = el("div", { class: "room-poll-editor" }, el("h3", { text: t("room.poll-title") }));
    const questions = el("select", { id: "room-poll-pick", "aria-label": t("room.poll-pick") }, el("option", { value: "", text: t("room.poll-pick") }));
    this.pickable = [];
    this.lessonQuestions().then((list) => {
      this.pickable = list;
      list.forEach((q, i) => questions.append(el("option", { value: String(i), text: q.question })));
      questions.hidden = list.length === 0;
    });
    const question = el("input", { id: "room-poll-question", maxlength: "200" });
    const choices = el("textarea", { id: "room-poll-choices", rows: "3" });
    questions.addEventListener("change", () => {
      const q = this.pickable[Number(questions.value)];
      if (!q) return;
      question.value = q.question;
      choices.value = q.choices.join("\n");
    });
    const askBtn = el("button", { type: "button", id: "room-poll-ask", class: "bar-btn", text: t("room.poll-ask") });
    const reveal = el("button", { type: "button", id: "room-poll-reveal", class: "bar-btn", text: t("room.poll-reveal"), hidden: true });
    this.pollStatus = el("p", { id: "room-poll-status", class: "room-poll-status", "aria-live": "polite" });
    this.pollResult = el("div", { id: "room-poll-result", class: "room-counts" });
    this.pollError = el("p", { class: "room-error", role: "alert" });
    this.revealBtn = reveal;
    askBtn.addEventListener("click", async () => {
      const list = choices.value.split("\n").map((c) => c.trim()).filter(Boolean);
      const a = await ask(this.conn, "room-poll", { room: this.info.room, control: this.info.control, question: question.value, choices: list });
      this.pollError.textContent = a.ok ? "" : describeError(a.error);
      if (a.ok) this.onPoll(a.poll);
    });
    reveal.addEventListener("click", async () => {
      const a = await ask(this.conn, "room-reveal", { room: this.info.room, control: this.info.control });
      this.pollError.textContent = a.ok ? "" : describeError(a.error);
      if (a.ok) this.onPoll(a.poll);
    });
    box.append(questions, el("label", { class: "field" }, t("room.poll-question"), question),
      el("label", { class: "field" }, t("room.poll-choices"), choices),
      el("div", { class: "room-actions" }, askBtn, reveal), this.pollError, this.pollStatus, this.pollResult);
    return box;
  }

  /** The lessons' prediction questions (static/lessons, GET /api/lessons), in words. */
  async lessonQuestions() {
    try {
      const r = await fetch("/api/lessons");
      if (!r.ok) return [];
      const data = await r.json();
      const out = [];
      for (const lesson of data.lessons || []) {
        (lesson.steps || []).forEach((step, i) => {
          const key = `lesson.${lesson.id}.${i + 1}`;
          if (!step.predict || !has(`${key}.question`)) return;
          out.push({ question: t(`${key}.question`), choices: (step.predict.choices || []).map((c) => t(`${key}.choice.${c.id}`)) });
        });
      }
      return out;
    } catch {
      return [];
    }
  }

  async end() {
    if (!this.info) return;
    await ask(this.conn, "room-end", { room: this.info.room, control: this.info.control });
  }

  onStatus(s) {
    if (!this.info || s.room !== this.info.room) return;
    this.info.followers = s.followers;
    this.showRoomButton();
    if (this.countEl) this.countEl.textContent = tn("room.following", s.followers);
    if (this.pollStatus && this.poll && !this.poll.revealed) this.pollStatus.textContent = tn("room.poll-answered", s.answered);
    if (this.lessonPollStatus && this.poll && !this.poll.revealed) this.lessonPollStatus.textContent = tn("room.poll-answered", s.answered);
  }

  onPoll(poll) {
    this.poll = poll;
    if (this.conn.following) {
      // The same open poll asked again (the server's store had lost its answers): the
      // answer this page gave goes again, so it is counted.
      const mine = load(ANSWER_KEY);
      if (poll && !poll.revealed && mine && mine.poll === poll.id) ask(this.conn, "room-answer", { choice: mine.choice });
      this.showFollowerPoll();
      return;
    }
    this.showLessonPoll();
    if (!this.pollStatus) return;
    this.revealBtn.hidden = !poll || poll.revealed;
    this.pollResult.textContent = "";
    if (!poll) return;
    this.pollStatus.textContent = poll.revealed ? poll.question : `${poll.question} · ${tn("room.poll-answered", 0)}`;
    if (poll.revealed) drawCounts(this.pollResult, poll);
  }

  onEnded(m) {
    const why = has(`room.ended.${m.reason}`) ? t(`room.ended.${m.reason}`) : m.reason;
    this.notice.show(t("room.ended-head"), [why]);
    this.announcer.say(`${t("room.ended-head")}: ${why}`);
    if (this.conn.following) {
      this.ended = true;
      this.bannerText.textContent = t("room.ended-head");
      this.takeBtn.hidden = true;
      return;
    }
    store(ROOM_KEY, null);
    this.info = null;
    this.poll = null;
    this.panel.hidden = true;
    this.showRoomButton();
    this.showLessonPoll();
  }

  // ------------------------------------------------------------ joining by code
  openJoin() {
    this.codeError.textContent = "";
    this.joinDialog.showModal();
    this.codeInput.focus();
  }

  async joinByCode() {
    const a = await ask(this.conn, "room-code", { code: this.codeInput.value });
    if (a.ok) {
      window.location.assign(a.link);
      return;
    }
    const error = a.error || {};
    const msg = error.field === "code" && /attempts/.test(error.message || "") ? t("room.code-slow")
      : error.field === "code" && /unknown/.test(error.message || "") ? t("room.code-unknown")
        : error.field === "code" ? t("room.code-format") : describeError(error);
    this.codeError.textContent = msg;
  }

  // ------------------------------------------------------------ follower
  follow() {
    const conn = this.conn;
    this.startBtn.hidden = true;
    // The address bar stays the room's link while following.
    this.shareChanged = this.share.changed;
    this.share.changed = () => {};
    this.bannerText = el("p", { id: "room-banner-text", class: "room-banner-text", text: t("room.joining") });
    this.takeBtn = el("button", { type: "button", id: "room-take", class: "bar-btn", text: t("room.take") });
    this.takeBtn.addEventListener("click", () => this.take());
    this.pollCard = el("div", { id: "room-poll-card", class: "room-poll-card", hidden: true });
    this.banner.append(el("div", { class: "room-banner-row" }, this.bannerText, this.takeBtn), this.pollCard);
    this.banner.hidden = false;
    document.body.dataset.room = "follower";
    conn.onRoomJoined = (a) => {
      this.code = a.code;
      this.bannerText.textContent = t("room.following-banner", { code: a.code });
      this.onPoll(a.poll);
      if (a.state) this.setState(a.state);
    };
    conn.onRoomError = (error) => {
      const e = error || {};
      const line = e.field === "room" && /ended|never/.test(e.message || "") ? t("room.join-failed") : describeError(e);
      this.notice.show(t("room.join-failed-head"), [line]);
      this.bannerText.textContent = t("room.join-failed-head");
      this.takeBtn.hidden = true;
      document.body.dataset.ready = "true";
    };
    conn.onRefused = () => {
      this.notice.show(t("room.refused-head"), [t("room.refused")]);
    };
  }

  onPresenter(m) {
    if (!this.conn.following || this.ended) return;
    this.bannerText.textContent = m.away ? t("room.presenter-away", { code: this.code }) : t("room.following-banner", { code: this.code });
  }

  showFollowerPoll() {
    const card = this.pollCard;
    const poll = this.poll;
    card.textContent = "";
    card.hidden = !poll;
    if (!poll) return;
    const mine = load(ANSWER_KEY);
    const chosen = mine && mine.poll === poll.id ? mine.choice : null;
    card.append(el("p", { class: "room-poll-question", id: "room-poll-q", text: poll.question }));
    if (poll.revealed) {
      const box = el("div", { class: "room-counts" });
      drawCounts(box, poll);
      card.append(box);
      return;
    }
    const row = el("div", { class: "room-choices", role: "group", "aria-labelledby": "room-poll-q" });
    poll.choices.forEach((choice, i) => {
      const b = el("button", { type: "button", class: "bar-btn room-choice", "data-choice": String(i), "aria-pressed": String(chosen === i), text: choice });
      b.addEventListener("click", async () => {
        const a = await ask(this.conn, "room-answer", { choice: i });
        if (a.ok) {
          store(ANSWER_KEY, { poll: poll.id, choice: i });
          this.showFollowerPoll();
          this.announcer.say(t("room.answered", { choice }));
        } else {
          this.announcer.say(describeError(a.error));
        }
      });
      row.append(b);
    });
    card.append(row, el("p", { class: "room-hint", text: t("room.poll-hint") }));
  }

  async take() {
    const conn = this.conn;
    const a = await ask(conn, "room-take", {});
    if (!a.ok) {
      this.notice.show(t("room.take-failed"), [describeError(a.error)]);
      return;
    }
    conn.following = false;
    conn.session = a.session;
    conn.save();
    this.share.changed = this.shareChanged;
    window.history.replaceState(null, "", "/");
    this.banner.hidden = true;
    this.startBtn.hidden = false;
    delete document.body.dataset.room;
    if (this.lessons) {
      // The lesson goes on here, on this run of the page's own.
      delete document.body.dataset.lessonLed;
      this.ledNote.hidden = true;
      this.lessons.els.button.hidden = false;
      this.lessons.ownRun();
    }
    this.share.changed();
    this.announcer.say(t("room.took"));
  }

  // ------------------------------------------------------------ room state
  /** The presenter's page publishes what the room should see besides the run (e.g. the
   * lesson step): followers get it through onState. Resolves with the server's answer. */
  publish(state) {
    if (!this.info || this.conn.following) return Promise.resolve({ ok: false });
    return ask(this.conn, "room-state", { room: this.info.room, control: this.info.control, state });
  }

  /** Hear the room state the presenter publishes (called at once if one is known). */
  onState(listener) {
    this.stateListeners.push(listener);
    if (this.state) listener(this.state);
  }

  setState(state) {
    this.state = state;
    for (const listener of this.stateListeners) listener(state);
  }
}
