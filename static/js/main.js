// Boot: connect, wire the store, the clock, the stage, the panels and the controls, and
// run one animation loop. The page is a view of the event stream; every change to the
// simulation is a command to the server.
import { Announcer } from "./announce.js";
import { problemsSummary, problemText, readBookmark } from "./bookmark.js";
import { VirtualClock } from "./clock.js";
import { Connection, describeError } from "./connection.js";
import { EventLog } from "./log.js";
import { Panels } from "./panels.js";
import { Stage } from "./stage.js";
import { Store } from "./store.js";
import { fmtT, POINT_LABEL } from "./words.js";

const SPEED_MIN = 0.05;
const SPEED_MAX = 200;
const PANEL_INTERVAL_MS = 100;
const BUSY_PANEL_INTERVAL_MS = 250;

const $ = (sel) => document.querySelector(sel);
const reducedMotionQuery = window.matchMedia("(prefers-reduced-motion: reduce)");

const store = new Store();
const clock = new VirtualClock();
const announcer = new Announcer($("#status"));
const panels = new Panels(store, clock);
const stage = new Stage($("#stage-canvas"), $("#stage"), $("#sender"), $("#receiver"), store, clock);
const log = new EventLog($("#log"), $("#log-count"), store, (hl) => {
  stage.highlight = hl;
});
panels.onJumpToSeq = (seq) => log.jumpToSeq(seq);

let presets = []; // the server's scenario presets, from the join answer
let limits = {};
let playing = false; // the server's word: is virtual time running (even if held back)?
let ready = false;
let away = false; // the connection dropped and is not back yet
const stats = { frames: 0, batches: 0, events: 0, snapshots: 0 };

// ------------------------------------------------------------------ connection
const conn = new Connection({
  onSnapshot(snap) {
    stats.snapshots++;
    store.loadSnapshot(snap);
    clock.reset(snap.t, !!snap.playing && !snap.held_back, snap.speed || 1);
    playing = !!snap.playing;
    panels.reset();
    log.reset();
    showScenario(snap.scenario, snap.seed);
    showSpeed(clock.speed);
    showSendState();
    panels.renderFailures(store.failures);
    panels.render(clock.display, performance.now());
    log.render(true);
    if (!snap.playing) {
      const orN = metricsMode() ? "" : ", or Send order (N)";
      announcer.say(`${snap.t > 0 ? "Paused" : "Ready, paused at the start"}: press Play (Space) to run, Step (→) to go one event at a time${orN}.`);
    }
    if (!ready) {
      ready = true;
      document.body.dataset.ready = "true";
      performance.mark("amo-usable");
    }
  },
  onBatch(batch) {
    stats.batches++;
    stats.events += batch.events.length;
    clock.sync(batch.t, batch.playing && !batch.held_back, batch.speed);
    playing = !!batch.playing;
    store.enqueue(batch.events);
  },
  onClock(c) {
    clock.sync(c.t, c.playing && !c.held_back, c.speed);
    playing = !!c.playing;
    showSpeed(clock.speed);
  },
  onJoined(answer) {
    if (answer.limits) limits = answer.limits;
    setPresets(answer.presets);
    showScenario(store.scenario, store.seed);
    applyBookmark(answer);
  },
  onState(state, detail) {
    const el = $("#connection");
    el.dataset.state = state;
    document.body.dataset.connection = state;
    const words = {
      connecting: "Connecting…",
      connected: detail === "resumed" ? "Connected (resumed)" : "Connected",
      reconnecting: "Reconnecting…",
      offline: "Offline",
    };
    el.querySelector(".text").textContent = words[state] || state;
    if (state === "reconnecting") clock.sync(clock.display, false); // freeze motion while away
    // Say it once when the link drops, and once when it is back.
    if ((state === "reconnecting" || state === "offline") && !away) {
      away = true;
      announcer.say("Connection to the server lost: reconnecting…");
    } else if (state === "connected" && away) {
      away = false;
      announcer.say(detail === "resumed"
        ? "Reconnected: the view continues where it was."
        : "Reconnected: the server no longer had this run, so a new one is shown.");
    }
  },
  onError(message) {
    announcer.say(`Problem: ${message}`);
  },
});

async function command(cmd, fields) {
  const answer = await conn.command(cmd, fields);
  if (!answer.ok) announcer.say(`Could not ${cmd.replace("-", " ")}: ${describeError(answer.error)}`);
  return answer;
}

// ------------------------------------------------------------------ scenario and seed
function setPresets(list) {
  if (!Array.isArray(list) || !list.length) return;
  presets = list;
  const sel = $("#scenario");
  const current = sel.value;
  sel.innerHTML = list.map((p) => `<option value="${p.name}">${p.title}</option>`).join("");
  if (current) sel.value = current;
}

function showScenario(name, seed) {
  const sel = $("#scenario");
  if (name) sel.value = name;
  const p = presets.find((x) => x.name === name);
  $("#explains").textContent = p ? p.explains : "";
  if (typeof seed === "number" && document.activeElement !== $("#seed")) $("#seed").value = String(seed);
}

$("#scenario").addEventListener("change", (ev) => {
  const seed = Number($("#seed").value);
  const fields = { name: ev.target.value };
  if (Number.isInteger(seed) && seed >= 0) fields.seed = seed;
  command("scenario", fields);
});
$("#seed").addEventListener("change", (ev) => {
  const seed = Number(ev.target.value);
  if (!Number.isInteger(seed) || seed < 0) {
    announcer.say("The seed is a whole number from 0 up.");
    return;
  }
  command("seed", { seed });
});

// ------------------------------------------------------------------ speed (log scale)
const speedInput = $("#speed");
function sliderToSpeed(v) {
  const raw = SPEED_MIN * (SPEED_MAX / SPEED_MIN) ** (v / 1000);
  const digits = raw < 1 ? 2 : raw < 10 ? 2 : 3;
  return Number(raw.toPrecision(digits));
}
function speedToSlider(s) {
  return Math.round((1000 * Math.log(s / SPEED_MIN)) / Math.log(SPEED_MAX / SPEED_MIN));
}
function speedLabel(s) {
  return `${s >= 10 ? Math.round(s) : Number(s.toPrecision(2))}×`;
}
function showSpeed(s) {
  if (document.activeElement !== speedInput) speedInput.value = String(speedToSlider(s));
  const label = speedLabel(s);
  $("#speed-out").textContent = label;
  speedInput.setAttribute("aria-valuetext", label);
}
let speedTimer = null;
speedInput.addEventListener("input", () => {
  const s = sliderToSpeed(Number(speedInput.value));
  $("#speed-out").textContent = speedLabel(s);
  speedInput.setAttribute("aria-valuetext", speedLabel(s));
  clearTimeout(speedTimer);
  speedTimer = setTimeout(() => command("speed", { speed: s }), 80);
});

// ------------------------------------------------------------------ bookmark (URL parameters)
const BOOKMARK_KEY = "amo.bookmark";
let bookmarkRead = false;

// Applied once per tab (a reload of the same tab keeps its run), again when the server
// no longer knows the session (it was restarted). Bad parameters are said in words, in
// the status line and in a notice, and the defaults are used.
async function applyBookmark(answer) {
  const first = !bookmarkRead;
  bookmarkRead = true;
  const b = readBookmark(window.location.search, presets, limits);
  if (!b.any) return;
  let applied = null;
  try {
    applied = sessionStorage.getItem(BOOKMARK_KEY);
  } catch {
    /* private mode: apply every time */
  }
  const again = answer.fresh || applied !== window.location.search;
  if (again && (first || answer.fresh)) {
    try {
      sessionStorage.setItem(BOOKMARK_KEY, window.location.search);
    } catch {
      /* ignore */
    }
    if (b.scenario !== undefined || b.seed !== undefined) {
      const fields = { name: b.scenario || store.scenario || (presets[0] && presets[0].name) };
      if (b.seed !== undefined) fields.seed = b.seed;
      await command("scenario", fields);
    }
    if (b.speed !== undefined) {
      const a = await command("speed", { speed: b.speed });
      if (a.ok) showSpeed(a.speed);
    }
    if (b.play) await actions.play();
  }
  if (first && b.problems.length) {
    showNotice(b.problems.map((p) => problemText(p)));
    announcer.say(problemsSummary(b.problems));
  }
}

function showNotice(lines) {
  const box = $("#notice-text");
  box.textContent = "";
  const head = document.createElement("p");
  head.className = "notice-head";
  head.textContent = lines.length === 1 ? "This link has a parameter the page cannot use:" : "This link has parameters the page cannot use:";
  box.append(head);
  for (const line of lines) {
    const p = document.createElement("p");
    p.textContent = line;
    box.append(p);
  }
  $("#notice").hidden = false;
}
function hideNotice() {
  $("#notice").hidden = true;
}
$("#notice-close").addEventListener("click", hideNotice);

// ------------------------------------------------------------------ send order (not in the metrics stream)
const SEND_OFF_WHY = "“Send order” is off here: this scenario streams metric samples, it has no orders.";
function metricsMode() {
  return !!(store.config && store.config.samples);
}
function showSendState() {
  const send = $("#send");
  if (metricsMode()) {
    send.setAttribute("aria-disabled", "true");
    send.setAttribute("aria-describedby", "send-why");
    send.title = SEND_OFF_WHY;
  } else {
    send.removeAttribute("aria-disabled");
    send.removeAttribute("aria-describedby");
    send.title = "Send an order (N)";
  }
}

// ------------------------------------------------------------------ buttons
const actions = {
  send: () => {
    if (metricsMode()) {
      announcer.say(`${SEND_OFF_WHY} Pick an order scenario to send orders.`);
      return Promise.resolve({ ok: false });
    }
    return command("create-order");
  },
  play: () => command("play").then((a) => {
    if (a.ok) {
      playing = true;
      announcer.say(`Playing at ${$("#speed-out").textContent}: Space pauses.`);
    }
    return a;
  }),
  pause: () => command("pause").then((a) => {
    if (a.ok) {
      playing = false;
      announcer.say(`Paused at t = ${fmtT(a.t !== undefined ? a.t : clock.display)}: Space plays, → steps.`);
    }
    return a;
  }),
  step: () => command("step"),
  reset: () => command("reset"),
  toggle: () => (playing ? actions.pause() : actions.play()),
};
for (const id of ["send", "play", "pause", "step", "reset"]) {
  $(`#${id}`).addEventListener("click", (ev) => {
    actions[id]();
    // After a mouse click, give the keyboard back to the page shortcuts (Space = play/pause).
    if (ev.detail > 0) ev.currentTarget.blur();
  });
}

// ------------------------------------------------------------------ failure points
function setFailure(point, fields) {
  return command("set-failure", { point, ...fields }).then((a) => {
    if (!a.ok) panels.renderFailures(store.failures);
  });
}
function toggleFailure(point) {
  const f = store.failures[point];
  const on = f && f.mode !== "off";
  setFailure(point, { mode: on ? "off" : "on" });
  announcer.say(`${POINT_LABEL[point]} ${on ? "switched off" : "switched on"}.`);
}
for (const input of document.querySelectorAll('#failures input[type="checkbox"]')) {
  input.addEventListener("change", () => setFailure(input.dataset.point, { mode: input.checked ? "on" : "off" }));
}
for (const input of document.querySelectorAll('#failures input[type="range"]')) {
  input.addEventListener("input", () => {
    input.dataset.dragging = "1";
    input.nextElementSibling.textContent = `${input.value}%`;
    input.setAttribute("aria-valuetext", `${input.value}%`);
  });
  input.addEventListener("change", () => {
    delete input.dataset.dragging;
    setFailure(input.dataset.point, { probability: Number(input.value) / 100 });
  });
  // Leaving the slider shows the server's value again (what the run really uses).
  input.addEventListener("blur", () => { lastFailuresVersion = null; });
}
for (const chip of document.querySelectorAll(".crash-chip")) {
  chip.addEventListener("click", (ev) => {
    ev.stopPropagation();
    toggleFailure(chip.dataset.point);
  });
}
stage.onLegClick = (leg) => toggleFailure(leg === "request" ? "request-lost" : "reply-lost");

// ------------------------------------------------------------------ keyboard
document.addEventListener("keydown", (ev) => {
  if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.repeat && ev.key !== "ArrowRight") return;
  const t = ev.target;
  const tag = t && t.tagName;
  if (tag === "SELECT" || tag === "TEXTAREA" || (t && t.isContentEditable)) return;
  if (tag === "INPUT" && t.type !== "checkbox") return; // sliders and fields keep their keys
  const key = ev.key;
  if (key === "Escape" && !$("#notice").hidden) {
    hideNotice();
    return;
  }
  let action = null;
  if (key === " " || key === "Spacebar") {
    if (tag === "BUTTON" || tag === "INPUT") return; // Space presses the focused control
    action = "toggle";
  } else if (key === "ArrowRight" || key === "PageDown" || key === "PageUp") action = "step";
  else if (key === "n" || key === "N") action = "send";
  else if (key === "r" || key === "R") action = "reset";
  if (!action) return;
  ev.preventDefault();
  actions[action]();
});

// ------------------------------------------------------------------ the loop
let lastPanels = 0;
let lastLog = 0;
let eventsAtLastPanels = 0;
let lastLogCount = 0;
let lastFailuresVersion = null;
store.on((applied) => {
  announcer.events(applied);
  for (const e of applied) {
    if (e.type === "failure-point-changed") lastFailuresVersion = null;
  }
});

function frame(now) {
  stats.frames++;
  const reduced = reducedMotionQuery.matches;
  stage.reducedMotion = reduced;
  const t = clock.tick(now, reduced);
  store.applyUntil(t);
  stage.draw(t, now);
  if (lastFailuresVersion === null || store.dirty.failures) {
    store.dirty.failures = false;
    lastFailuresVersion = store.version;
    panels.renderFailures(store.failures);
  }
  // A busy stream (thousands of events a second): panels refresh less often.
  const busy = stats.events - eventsAtLastPanels > 300;
  if (now - lastPanels >= (busy ? BUSY_PANEL_INTERVAL_MS : PANEL_INTERVAL_MS)) {
    eventsAtLastPanels = stats.events;
    lastPanels = now;
    panels.render(t, now);
    // A busy stream: the log (text only) refreshes less often than the panels.
    if (store.logCount - lastLogCount < 200 || now - lastLog >= 300) {
      lastLog = now;
      lastLogCount = store.logCount;
      log.render();
    }
    $("#play").setAttribute("aria-pressed", String(playing));
    $("#pause").setAttribute("aria-pressed", String(!playing));
  }
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);

// For tests and the browser benchmark: read-only handles, no behaviour.
window.amo = { store, clock, conn, stage, stats, panels, log };
