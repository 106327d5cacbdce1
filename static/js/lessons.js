// Lessons (issue 11): the seed's story told step by step. The structure comes from the
// server (GET /api/lessons: static/lessons/*.json, checked by server/lessons.py); the words
// from the page's catalogue (lesson.<id>.* keys, merged in by the server). A step sets the
// run up (scenario, seed, failure points, speed, call mode, semantics: commands like any
// other), acts (sends orders, plays until an event: `play` with `until`, so the server
// pauses exactly there), highlights what to look at and may ask for a prediction before it
// reveals the answer. The answer of a factual question is computed from the run as revealed
// (the store), never assumed. Where the learner is (lesson, step, answers) is kept in
// localStorage; Back, a reload or a link (?lesson=<id>&step=N) rebuild the step's run from
// its set-up: the engine is deterministic, so the same commands give the same run.
import { t } from "./i18n.js";

const KEY = "amo.lessons";
const CATCH_UP_SPEED = 200; // replaying earlier steps to reach the one asked for
const OPS = {
  "==": (a, b) => a === b, "!=": (a, b) => a !== b, "<": (a, b) => a < b,
  "<=": (a, b) => a <= b, ">": (a, b) => a > b, ">=": (a, b) => a >= b,
};

/** The value of a condition's field in the store (an order's, or the run's). */
export function fieldOf(store, c) {
  if (c.order !== null && c.order !== undefined) {
    const o = store.orders.get(c.order);
    return o ? o[c.field] : undefined;
  }
  const n = store.counts;
  const run = {
    orders: n.orders, consistent: n.consistent, diverged: n.diverged, approved: n.approved,
    cancelled: n.cancelled, timeouts: n.timeouts, reserved: store.customer.reserved,
    approved_total: store.approvedTotal, messages_sent: store.msgs.sent, messages_lost: store.msgs.lost,
    samples_lost: store.samplesLost, drift: store.metrics ? store.metrics.drift : undefined,
    invariant_ok: store.invariant.ok,
  };
  return run[c.field];
}

/** Whether every condition holds in the store. */
export function holds(store, conditions) {
  return conditions.every((c) => {
    const v = fieldOf(store, c);
    return v !== undefined && v !== null && OPS[c.op](v, c.value);
  });
}

function load() {
  try {
    const data = JSON.parse(localStorage.getItem(KEY) || "{}");
    return { current: data.current || null, progress: data.progress || {} };
  } catch {
    return { current: null, progress: {} };
  }
}

// What a step's look_at names, on the page (the legs are boxes stage.js measures).
const LOOK_SELECTORS = {
  stage: "#stage-view", sender: "#sender", receiver: "#receiver", steps: "#stage-view .step-nums",
  diagram: "#diagram-panel", orders: "#lower", alarm: "#credit", failures: "#failures",
  call: "#call-field", metrics: "#metrics-panel", clock: "#clock",
};

/** The smallest box holding every box of `rects` (null: none). */
function union(rects) {
  const r = rects.filter((x) => x.width > 0);
  if (!r.length) return null;
  const left = Math.min(...r.map((x) => x.left));
  const top = Math.min(...r.map((x) => x.top));
  return new DOMRect(left, top, Math.max(...r.map((x) => x.right)) - left, Math.max(...r.map((x) => x.bottom)) - top);
}

const nextFrame = () => new Promise((r) => setTimeout(r, 40));

export class Lessons {
  /**
   * @param {object} o store, clock, conn, send (commands), timeline, stage, lowerTabs,
   *   announcer, notice, share, els: {button, dialog, list, panel, title, pos, caption, look,
   *   form, group, question, choices, reveal, result, back, next, close, marks}
   */
  constructor(o) {
    Object.assign(this, o);
    this.lessons = null; // the structure, once fetched
    this.lesson = null; // the lesson open, or null
    this.index = 0; // the step shown (0-based); index === steps.length: the end
    this.gen = 0; // each move to a step: older moves' waits give up
    this.busy = false; // a step's action (or a reveal) is playing
    this.doneAt = -1; // the last step whose action (and reveal) has run in this run
    this.runNo = null; // the run the lesson's steps were played in
    this.revealed = false;
    this.speed = 1;
    this.fast = false; // tests and rehearsals: speeds x20 (localStorage amo.lessons.fast = "1")
    try {
      this.fast = localStorage.getItem("amo.lessons.fast") === "1";
    } catch {
      /* private mode */
    }
    this.linked = false; // a link opened a lesson: do not resume another
    // Rooms (room.js): onMove hears where the lesson is ({lesson, step, revealed, right?},
    // {lesson: null} closed); led: a room's follower, shown the presenter's steps (follow).
    this.onMove = null;
    this.led = false;
    this.state = load();
    const { els } = this;
    els.button.addEventListener("click", (ev) => {
      this.openList();
      if (ev.detail > 0) els.button.blur();
    });
    els.next.addEventListener("click", () => this.next());
    els.back.addEventListener("click", () => this.back());
    els.close.addEventListener("click", () => this.close());
    els.form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.reveal();
    });
    // Enter on a choice reveals (the arrows choose, in the radio group itself).
    els.form.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && ev.target.type === "radio") {
        ev.preventDefault();
        this.reveal();
      }
    });
    els.list.addEventListener("click", (ev) => {
      const b = ev.target.closest("button[data-lesson]");
      if (!b) return;
      els.dialog.close();
      this.open(b.dataset.lesson);
    });
    this.trackMarks();
  }

  isOpen() {
    return this.lesson !== null;
  }

  async fetchLessons() {
    if (this.lessons) return this.lessons;
    try {
      const r = await fetch("/api/lessons");
      this.lessons = (await r.json()).lessons || [];
    } catch {
      this.lessons = [];
    }
    return this.lessons;
  }

  save() {
    try {
      localStorage.setItem(KEY, JSON.stringify(this.state));
    } catch {
      /* private mode: no resume */
    }
  }

  progressOf(id) {
    if (!this.state.progress[id]) this.state.progress[id] = { step: 0, done: false, answers: {} };
    return this.state.progress[id];
  }

  tally(id) {
    const answers = Object.values(this.progressOf(id).answers);
    const made = answers.filter((a) => a.choice !== null);
    return { made: made.length, held: made.filter((a) => a.held).length };
  }

  tallyText(id) {
    const { made, held } = this.tally(id);
    return made ? t("lessons.tally", { held, made }) : t("lessons.tally-none");
  }

  // ------------------------------------------------------------------ the list
  async openList() {
    const lessons = await this.fetchLessons();
    const list = this.els.list;
    list.textContent = "";
    for (const lesson of lessons) {
      const p = this.progressOf(lesson.id);
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.lesson = lesson.id;
      const title = document.createElement("span");
      title.className = "lesson-item-title";
      title.textContent = `${lesson.number}. ${t(`lesson.${lesson.id}.title`)}`;
      const state = document.createElement("span");
      state.className = "lesson-item-state";
      state.dataset.state = p.done ? "done" : p.step > 0 ? "started" : "new";
      state.textContent = p.done
        ? `✓ ${t("lessons.progress-done")} · ${this.tallyText(lesson.id)}`
        : p.step > 0 ? t("lessons.progress-at", { n: p.step, m: lesson.steps.length }) : t("lessons.progress-new");
      const summary = document.createElement("span");
      summary.className = "lesson-item-summary";
      summary.textContent = t(`lesson.${lesson.id}.summary`);
      b.append(title, state, summary);
      li.append(b);
      list.append(li);
    }
    this.els.dialog.showModal();
    const first = list.querySelector(`button[data-lesson="${this.lesson ? this.lesson.id : ""}"]`) || list.querySelector("button");
    if (first) first.focus();
  }

  // ------------------------------------------------------------------ open, move, close
  async open(id, step) {
    if (this.led) return false; // a follower's run is the room's: the presenter leads
    const lessons = await this.fetchLessons();
    const lesson = lessons.find((l) => l.id === id);
    if (!lesson) return false;
    const p = this.progressOf(id);
    let n = step !== undefined ? step - 1 : p.done ? 0 : Math.max(0, p.step - 1);
    n = Math.min(Math.max(0, n), lesson.steps.length - 1);
    if (n === 0) p.answers = {}; // starting afresh: a new tally
    this.lesson = lesson;
    document.body.classList.add("lesson-open");
    this.els.panel.hidden = false;
    this.announcer.say(t("lessons.opened", { title: t(`lesson.${id}.title`) }));
    await this.goTo(n, "jump");
    return true;
  }

  close() {
    if (!this.lesson) return;
    this.gen++;
    this.lesson = null;
    this.busy = false;
    if (!this.led) this.state.current = null;
    this.save();
    this.moved();
    this.els.panel.hidden = true;
    document.body.classList.remove("lesson-open");
    this.stage.showStepNumbers(false);
    this.els.marks.textContent = "";
    if (this.share) this.share.changed();
    this.announcer.say(t("lessons.closed"));
  }

  next() {
    if (!this.lesson || this.led) return;
    const step = this.lesson.steps[this.index];
    if (step && step.predict && !this.revealed && !this.busy) {
      this.reveal(); // a clicker's Next at a question reveals first
      return;
    }
    if (this.index >= this.lesson.steps.length) {
      // At the end: the next lesson, if any.
      const i = this.lessons.indexOf(this.lesson);
      if (i + 1 < this.lessons.length) this.open(this.lessons[i + 1].id, 1);
      else this.close();
      return;
    }
    if (this.index === this.lesson.steps.length - 1 && !this.busy) {
      this.finish();
      return;
    }
    this.goTo(this.index + 1, "next");
  }

  back() {
    if (!this.lesson || this.led) return;
    if (this.index >= this.lesson.steps.length) {
      this.index = this.lesson.steps.length - 1;
      this.render();
      return;
    }
    if (this.index > 0) this.goTo(this.index - 1, "back");
  }

  finish() {
    const p = this.progressOf(this.lesson.id);
    p.done = true;
    this.gen++;
    this.index = this.lesson.steps.length;
    this.save();
    this.render();
    this.moved();
    this.announcer.say(`${t("lessons.end")} ${this.tallyText(this.lesson.id)}`);
  }

  /** Show step `n` and bring the run there: from its set-up (earlier steps replayed fast)
   * or, going on to the next step, from where the run is. */
  async goTo(n, how) {
    const lesson = this.lesson;
    const gen = ++this.gen;
    const steps = lesson.steps;
    const p = this.progressOf(lesson.id);
    const wasBusy = this.busy;
    this.index = n;
    this.revealed = false;
    p.step = n + 1;
    this.state.current = { id: lesson.id, step: n + 1 };
    this.save();
    this.render();
    this.moved();
    if (this.share) this.share.changed();
    const step = steps[n];
    const going = how === "next" && !wasBusy && !step.setup && this.doneAt === n - 1 && this.conn.run === this.runNo;
    this.busy = true;
    this.renderBusy();
    if (this.timeline && this.timeline.inPast) await this.send("live");
    if (!going) {
      let j = n;
      while (j > 0 && !steps[j].setup) j--;
      this.doneAt = -1;
      await this.setUp(steps[j].setup);
      if (gen !== this.gen) return;
      if (j < n) await this.send("speed", { speed: CATCH_UP_SPEED });
      for (let i = j; i < n; i++) {
        if (!(await this.act(steps[i].action, gen))) return;
        if (steps[i].predict && !(await this.playUntil(steps[i].predict.reveal.until, gen))) return;
      }
      if (gen !== this.gen) return;
      if (j < n) await this.send("speed", { speed: this.stepSpeed() });
    }
    if (!(await this.act(step.action, gen))) return;
    this.doneAt = n;
    this.runNo = this.conn.run;
    this.busy = false;
    this.renderBusy();
    // The status line says where the lesson is (a snapshot's "Ready, paused…" would not).
    this.announcer.say(`${t("lessons.step", { n: n + 1, m: steps.length })}: ${t(`lesson.${lesson.id}.${n + 1}.caption`)}`);
    // Resuming a question already answered: reveal it again, with the answer given.
    const answer = p.answers[n + 1];
    if (step.predict && how === "jump" && answer && answer.revealed) {
      this.check(answer.choice);
      await this.reveal();
    } else if (step.predict) {
      const first = this.els.choices.querySelector("input[type=radio]");
      if (first) first.focus();
    }
  }

  stepSpeed() {
    return Math.min(200, this.speed * (this.fast ? 20 : 1));
  }

  async setUp(setup) {
    const fields = { name: setup.scenario, seed: setup.seed, script: setup.script };
    const config = { ...(setup.config || {}) };
    if (setup.call) config.call = setup.call;
    if (setup.semantics) config.semantics = setup.semantics;
    if (Object.keys(config).length) fields.config = config;
    await this.send("scenario", fields);
    for (const [point, s] of Object.entries(setup.failures || {})) {
      await this.send("set-failure", { point, mode: s.mode, probability: s.probability });
    }
    this.speed = setup.speed;
    await this.send("speed", { speed: this.stepSpeed() });
  }

  /** A step's action: send its orders, then play until its event. False: superseded. */
  async act(action, gen) {
    for (let i = 0; i < (action.send || 0); i++) {
      await this.send("create-order");
      if (gen !== this.gen) return false;
    }
    if (action.until === null || action.until === undefined) return gen === this.gen;
    return this.playUntil(action.until, gen);
  }

  /** Play until an event (the server pauses there) or the end; wait until the page has
   * shown everything up to that moment. False: superseded by another move. */
  async playUntil(until, gen) {
    if (gen !== this.gen) return false;
    const a = until === "end" ? await this.send("play") : await this.send("play", { until });
    if (gen !== this.gen) return false;
    if (!a.ok) return false;
    const bound = a.until && typeof a.until.seq === "number" ? a.until.seq : null;
    const { store } = this;
    for (;;) {
      if (gen !== this.gen) return false;
      const settled = store.pendingCount() === 0 && !store.pacing.playing;
      if (settled && (bound !== null ? store.appliedSeq >= bound : store.pacing.over)) return true;
      await nextFrame();
    }
  }

  check(choice) {
    for (const r of this.els.choices.querySelectorAll("input[type=radio]")) r.checked = r.value === choice;
  }

  chosen() {
    const r = this.els.choices.querySelector("input[type=radio]:checked");
    return r ? r.value : null;
  }

  /** Play on to the answer and say whether the prediction held, and why. */
  async reveal() {
    const step = this.lesson && this.lesson.steps[this.index];
    if (!step || !step.predict || this.revealed || this.busy || this.led) return;
    const gen = this.gen;
    const choice = this.chosen();
    const pr = step.predict;
    this.busy = true;
    this.renderBusy();
    if (!(await this.playUntil(pr.reveal.until, gen))) return;
    this.busy = false;
    this.revealed = true;
    const right = pr.fixed
      ? pr.choices.filter((c) => c.correct).map((c) => c.id)
      : pr.choices.filter((c) => holds(this.store, c.when)).map((c) => c.id);
    const held = choice !== null && right.includes(choice);
    const p = this.progressOf(this.lesson.id);
    p.answers[this.index + 1] = { choice, held, revealed: true };
    this.save();
    this.showResult(choice, right, held);
    this.renderBusy();
    this.moved({ right });
    this.els.next.focus();
  }

  // ------------------------------------------------------------------ rooms (room.js)
  moved(extra = {}) {
    if (!this.onMove || this.led) return;
    this.onMove(this.lesson ? { lesson: this.lesson.id, step: this.index + 1, revealed: this.revealed, ...extra } : { lesson: null });
  }

  /** A room's follower: show the presenter's lesson step as published (nothing is sent:
   * the run shown is the room's); a revealed prediction shows the presenter's answer and
   * whether this page's own choice held. */
  async follow(state) {
    this.led = true;
    if (!state || !state.lesson) {
      if (this.lesson) this.close();
      return;
    }
    const lesson = (await this.fetchLessons()).find((l) => l.id === state.lesson);
    if (!lesson || !this.led) return;
    this.gen++;
    const m = lesson.steps.length;
    const n = Math.min(Math.max(0, (Number(state.step) || 1) - 1), m);
    const same = this.lesson === lesson && this.index === n;
    const choice = same ? this.chosen() : null;
    Object.assign(this, { lesson, index: n, busy: false, revealed: Boolean(state.revealed) });
    document.body.classList.add("lesson-open");
    this.els.panel.hidden = false;
    this.render();
    if (choice !== null) this.check(choice);
    if (this.revealed && n < m && Array.isArray(state.right)) this.showResult(choice, state.right, choice !== null && state.right.includes(choice));
    this.renderBusy();
    if (!same) this.announcer.say(`${t("lessons.step", { n: Math.min(n + 1, m), m })}: ${this.els.caption.textContent}`);
  }

  /** Take it from here (room.js): the lesson goes on at this step on the page's own run. */
  ownRun() {
    this.led = false;
    if (!this.lesson) return;
    const steps = this.lesson.steps;
    let j = Math.min(this.index, steps.length - 1);
    while (j > 0 && !steps[j].setup) j--;
    this.speed = steps[j].setup.speed;
    this.doneAt = this.index;
    this.runNo = this.conn.run;
    this.state.current = { id: this.lesson.id, step: Math.min(this.index + 1, steps.length) };
    this.save();
    this.els.back.disabled = this.index === 0;
    this.renderBusy();
  }

  showResult(choice, right, held) {
    const id = this.lesson.id;
    const key = `lesson.${id}.${this.index + 1}`;
    const lines = [];
    const verdict = choice === null ? t("lessons.no-prediction") : held ? t("lessons.held") : t("lessons.missed");
    lines.push(["verdict", verdict]);
    if (!right.length) lines.push(["answer", t("lessons.no-match")]);
    for (const r of right) {
      lines.push(["answer", t("lessons.answer", { choice: t(`${key}.choice.${r}`) })]);
      lines.push(["why", t(`${key}.explain.${r}`)]);
    }
    if (choice !== null && !held) lines.push(["why", t(`${key}.explain.${choice}`)]);
    const out = this.els.result;
    out.textContent = "";
    out.dataset.held = choice === null ? "none" : String(held);
    for (const [kind, text] of lines) {
      const s = document.createElement("span");
      s.className = `lesson-${kind}`;
      s.textContent = `${kind === "verdict" ? (held ? "✓ " : choice === null ? "• " : "✗ ") : ""}${text} `;
      out.append(s);
    }
    for (const r of this.els.choices.querySelectorAll("label")) {
      const v = r.querySelector("input").value;
      r.dataset.answer = right.includes(v) ? "right" : v === choice ? "wrong" : "";
    }
    this.announcer.say(out.textContent);
  }

  // ------------------------------------------------------------------ drawing
  render() {
    const { els, lesson } = this;
    if (!lesson) return;
    const m = lesson.steps.length;
    const atEnd = this.index >= m;
    els.title.textContent = t("lessons.heading", { n: lesson.number, title: t(`lesson.${lesson.id}.title`) });
    els.pos.textContent = atEnd ? t("lessons.done") : t("lessons.step", { n: this.index + 1, m });
    const step = atEnd ? null : lesson.steps[this.index];
    els.caption.textContent = atEnd ? `${t("lessons.end")} ${this.tallyText(lesson.id)}` : t(`lesson.${lesson.id}.${this.index + 1}.caption`);
    const look = step ? step.look_at : [];
    els.look.textContent = look.length ? t("lessons.look-at", { what: look.map((x) => this.lookName(x)).join(", ") }) : "";
    els.look.hidden = !look.length;
    this.stage.showStepNumbers(look.includes("steps"));
    // The tab the step looks at.
    if (look.includes("diagram")) this.lowerTabs.select(1);
    else if (look.some((x) => x === "orders" || x.startsWith("order-"))) this.lowerTabs.select(0);
    // The prediction.
    const pr = step && step.predict;
    els.form.hidden = !pr;
    els.result.textContent = "";
    delete els.result.dataset.held;
    els.choices.textContent = "";
    if (pr) {
      const key = `lesson.${lesson.id}.${this.index + 1}`;
      els.question.textContent = t(`${key}.question`);
      for (const c of pr.choices) {
        const label = document.createElement("label");
        label.className = "lesson-choice";
        const input = document.createElement("input");
        input.type = "radio";
        input.name = "lesson-choice";
        input.value = c.id;
        label.append(input, document.createTextNode(` ${t(`${key}.choice.${c.id}`)}`));
        els.choices.append(label);
      }
    }
    els.back.disabled = this.index === 0;
    const last = this.lessons ? this.lessons.indexOf(lesson) === this.lessons.length - 1 : true;
    els.next.textContent = atEnd ? (last ? t("lessons.close-short") : t("lessons.next-lesson")) : t("lessons.next");
    this.renderBusy();
  }

  renderBusy() {
    const { els } = this;
    els.panel.dataset.busy = String(this.busy);
    els.reveal.disabled = this.busy || this.revealed;
    for (const r of els.choices.querySelectorAll("input")) r.disabled = this.revealed;
    els.panel.dataset.revealed = String(this.revealed);
  }

  lookName(x) {
    const m = /^order-(\d+)$/.exec(x);
    if (m) return t("lessons.look.order", { n: m[1] });
    return t(`lessons.look.${x}`);
  }

  /** The elements (or boxes) a step looks at. */
  lookTargets() {
    const step = this.lesson && this.lesson.steps[this.index];
    if (!step) return [];
    const out = [];
    const $ = (s) => document.querySelector(s);
    for (const x of step.look_at) {
      let rect = null;
      const m = /^order-(\d+)$/.exec(x);
      const sel = m ? `#orders tbody tr[data-order="${m[1]}"]` : LOOK_SELECTORS[x];
      const el = sel ? $(sel) : null;
      if (x === "request-leg" || x === "reply-leg") rect = this.stage.legRect(x === "request-leg" ? "request" : "reply");
      else if (x === "steps") rect = union([...document.querySelectorAll("#stage-view .step-num")].map((e) => e.getBoundingClientRect()));
      else if (el && el.getClientRects().length) rect = el.getBoundingClientRect();
      if (rect && rect.width > 0 && rect.height > 0) out.push({ x, rect });
    }
    return out;
  }

  /** The highlight boxes follow their elements (rows re-render, the layout moves). */
  trackMarks() {
    const tick = () => {
      requestAnimationFrame(tick);
      const marks = this.els.marks;
      if (!this.lesson) {
        if (marks.childElementCount) marks.textContent = "";
        return;
      }
      const targets = this.lookTargets();
      const panelBottom = this.els.panel.getBoundingClientRect().bottom;
      while (marks.childElementCount > targets.length) marks.lastElementChild.remove();
      targets.forEach(({ x, rect }, i) => {
        let box = marks.children[i];
        if (!box) {
          box = document.createElement("div");
          box.className = "look-box";
          box.innerHTML = '<span class="look-label"></span>';
          marks.append(box);
        }
        if (box.dataset.target !== x) {
          box.dataset.target = x;
          box.firstChild.textContent = `▶ ${t("lessons.look-here")}: ${this.lookName(x)}`;
        }
        const s = box.style;
        const px = (v) => `${Math.round(v)}px`;
        s.left = px(rect.left);
        s.top = px(rect.top);
        s.width = px(rect.width);
        s.height = px(rect.height);
        // The label goes above the box, or under it where above is the lesson's strip.
        box.dataset.inside = String(rect.top - 30 < panelBottom);
      });
    };
    requestAnimationFrame(tick);
  }

  // ------------------------------------------------------------------ resume, links
  /** After the first join: a lesson that was open opens again where it was. */
  joined() {
    if (this.resumed || this.linked || this.led) return;
    this.resumed = true;
    const cur = this.state.current;
    if (cur && cur.id) this.open(cur.id, cur.step).then((ok) => {
      if (!ok) {
        this.state.current = null;
        this.save();
      }
    });
  }

  /** ?lesson=<id>&step=N (bookmark.js): checked here, said in the notice when bad. */
  async openFromLink(id, stepRaw) {
    this.linked = true;
    const lessons = await this.fetchLessons();
    const lesson = lessons.find((l) => l.id === id);
    const problems = [];
    if (!lesson) {
      problems.push(t("lessons.link-unknown", { got: String(id).slice(0, 40), ids: lessons.map((l) => l.id).join(", ") }));
    }
    let step = 1;
    if (lesson && stepRaw !== undefined && stepRaw !== null) {
      const m = lesson.steps.length;
      const raw = String(stepRaw).trim();
      if (/^\d+$/.test(raw) && Number(raw) >= 1 && Number(raw) <= m) step = Number(raw);
      else {
        step = /^\d+$/.test(raw) ? Math.min(Math.max(1, Number(raw)), m) : 1;
        problems.push(t("lessons.link-step", { got: raw.slice(0, 40), m, used: step }));
      }
    }
    if (problems.length) {
      this.notice.show(t("lessons.link-head"), problems);
      this.announcer.say(problems.join(" "));
    }
    if (lesson) await this.open(lesson.id, step);
    else this.openList();
  }

  /** The lesson's place for the address bar (share.js), or null. */
  linkParams() {
    if (!this.lesson) return null;
    return { lesson: this.lesson.id, step: String(Math.min(this.index + 1, this.lesson.steps.length)) };
  }
}
