// Words for what happened: event log lines, status announcements, order stories, and the
// one table of failure-point labels. Only wording lives here; every judgement comes from
// the engine's events. The words themselves are in the message catalogue (i18n.js,
// static/i18n/<lang>.json); numbers are formatted in the page's language.
import * as i18n from "./i18n.js";

const { t, tn, has } = i18n;

/**
 * The failure points in words, one entry per wire name (engine/names.py). The page builds
 * its failure controls from the server's `limits.failure_points` and this table:
 *   label     the control's name ("Crash after processing")
 *   icon      drawn before the label, and before the step in an order's story
 *   happened  what it did, as a step of a story or a log line ("crashed after processing")
 *   leg       its leg on the stage: clicking the leg switches it; `slider` names its
 *             probability slider
 *   chip      where its switch sits on the stage, by the receiver: "top" or "bottom";
 *             `explains` is that switch's tooltip
 *   effect    what it does to an order, for the caption of a custom run
 * The words (label, happened, slider, explains, effect) are the catalogue's
 * "failure.<point>.<word>"; a point the catalogue has words for but this table does not
 * know gets them with a plain icon, and a point missing everywhere still gets a checkbox,
 * labelled with its wire name.
 */
const FAILURE_SHAPES = {
  "request-lost": { icon: "✂", leg: "request" },
  "crash-before-processing": { icon: "⚡", chip: "top" },
  "crash-after-processing": { icon: "⚡", chip: "bottom" },
  "reply-lost": { icon: "✂", leg: "reply" },
  // The sender knows it crashed: not the silence the other four leave it with.
  "sender-crash": { icon: "⚡", silent: false },
};

function wordsOf(point, shape) {
  const key = (word) => `failure.${point}.${word}`;
  const w = { label: t(key("label")), icon: shape.icon, happened: t(key("happened")), ...shape };
  for (const word of ["slider", "explains", "effect"]) if (has(key(word))) w[word] = t(key(word));
  if (has(key("switch"))) w.switchText = t(key("switch")); // its switch on the stage, if shorter
  return w;
}

export const FAILURE_LABELS = Object.fromEntries(
  Object.entries(FAILURE_SHAPES).map(([point, shape]) => [point, wordsOf(point, shape)]));

/** A failure point's entry in the table; an unknown point is called by its wire name. */
export function failureWords(point) {
  if (FAILURE_LABELS[point]) return FAILURE_LABELS[point];
  if (has(`failure.${point}.label`)) return wordsOf(point, { icon: "•" });
  return { label: String(point), icon: "•", happened: String(point) };
}

/** Text made safe to put into HTML (the page builds some markup from strings). */
export function esc(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

/** What is switched on, in words ("Reply lost on for every message; ..."), or "" if nothing. */
export function switchedOn(failures, points) {
  const parts = [];
  for (const p of points) {
    const f = failures[p];
    if (!f || (f.mode === "off" && !(f.probability > 0))) continue;
    const mode = f.mode === "off" ? t("mode.at-random", { pct: fmtInt(Math.round(f.probability * 100)) }) : modeWords(f.mode, f.probability);
    parts.push(t("custom.point-mode", { label: failureWords(p).label, mode }));
  }
  return parts.join("; ");
}

/**
 * The header's and the caption's words for a run whose failure points were changed by a
 * command: {title, caption}. `scenarioTitle` is the scenario it started from.
 */
export function customRun(scenarioTitle, failures, points) {
  const on = switchedOn(failures, points);
  const title = t("custom.title", { scenario: scenarioTitle });
  if (!on) {
    return { title, caption: t("custom.caption-off", { title }) };
  }
  const effects = points
    .filter((p) => failures[p] && (failures[p].mode !== "off" || failures[p].probability > 0))
    .map((p) => failureWords(p).effect)
    .filter(Boolean);
  return { title, caption: t("custom.caption", { title, on, effects: effects.join(" ") }) };
}

/** The failure point switched by clicking a leg, among the points the run has, or null. */
export function pointOnLeg(points, leg) {
  for (const p of points) if (FAILURE_LABELS[p] && FAILURE_LABELS[p].leg === leg) return p;
  return null;
}

// A label inside a sentence: English lowers its first letter, German keeps its nouns.
const lowerFirst = (s) => (t("style.lower-first") === "yes" ? s.charAt(0).toLowerCase() + s.slice(1) : s);

/** A small count in words ("four"), a larger one in digits. */
function countWords(n) {
  return n >= 0 && n <= 10 ? t(`count.${n}`) : fmtInt(n);
}

/** The note beside the orders: the sender hears the same silence for every failure point. */
export function sameSilence(points) {
  const n = points.length;
  return {
    text: t("orders.same-silence", { count: countWords(n) }),
    title: t("orders.same-silence-title", { points: points.map((p) => lowerFirst(failureWords(p).label)).join(", ") }),
  };
}

/** A failure point's switch on the stage: "⚡ crash before processing". */
export function chipText(point) {
  const w = failureWords(point);
  return w.switchText || lowerFirst(w.label);
}

/** Commands by the name of the control that sends them ("Play: no answer: ..."). */
const COMMAND_NAME = {
  "create-order": () => t("cmd.create-order"), play: () => t("cmd.play"), pause: () => t("cmd.pause"),
  step: () => t("cmd.step"), reset: () => t("cmd.reset"), speed: () => t("cmd.speed"),
  scenario: () => t("cmd.scenario"), seed: () => t("cmd.seed"), "set-failure": () => t("cmd.set-failure"),
  "set-credit-limit": () => t("cmd.set-credit-limit"),
};

/** A command's name in words ("Send order"), or its wire name. */
export function commandName(cmd) {
  return COMMAND_NAME[cmd] ? COMMAND_NAME[cmd]() : cmd;
}

/** A command that got no answer in time: it may or may not have been applied. */
export function noAnswer(cmd) {
  return t("cmd.no-answer", { cmd: commandName(cmd) });
}

/** The run has nothing left to happen: a tally computed from the store's counts. */
export function runOver(at, counts, metricsRun) {
  const head = t("run.over", { t: fmtT(at) });
  if (metricsRun) return t("run.over-metrics", { head });
  const n = counts.orders;
  const tally = n === 0 ? t("run.no-orders") : t("run.tally", {
    orders: tn("run.orders", n), consistent: fmtInt(counts.consistent), diverged: fmtInt(counts.diverged),
  });
  return t("run.over-orders", { head, tally });
}

/** The server no longer had the run: a new one started ([heading, line]). */
export const RUN_REPLACED = [t("run.replaced-head"), t("run.replaced-line")];
/** A Step with nothing left to happen. */
export const NOTHING_LEFT = t("run.nothing-left");

/** A command the server refused (a definite answer). */
export function refused(cmd, message) {
  const key = COULD_NOT[cmd];
  return key ? t(key, { message }) : t("cmd.could-not", { cmd: cmd.replace("-", " "), message });
}

const COULD_NOT = {
  "create-order": "cmd.could-not.create-order", play: "cmd.could-not.play", pause: "cmd.could-not.pause",
  step: "cmd.could-not.step", reset: "cmd.could-not.reset", speed: "cmd.could-not.speed",
  scenario: "cmd.could-not.scenario", seed: "cmd.could-not.seed", "set-failure": "cmd.could-not.set-failure",
  "set-credit-limit": "cmd.could-not.set-credit-limit", seek: "cmd.could-not.seek", "step-back": "cmd.could-not.step-back",
  live: "cmd.could-not.live", fork: "cmd.could-not.fork", export: "cmd.could-not.export",
  import: "cmd.could-not.import", history: "cmd.could-not.history",
};

// One formatter each: toLocaleString makes one per call.
const INT = new Intl.NumberFormat(i18n.lang);
export const fmtInt = (n) => (typeof n === "number" ? INT.format(n) : "–");
const UP_TO_2 = new Intl.NumberFormat(i18n.lang, { maximumFractionDigits: 2, useGrouping: false });
export const fmtNum = (x) => (typeof x === "number" ? UP_TO_2.format(Number(x.toFixed(2))) : "–");
export const fmtT = (x) => `${i18n.fmtFixed(x, x < 100 ? 2 : 1)} s`;
/** A share in per cent with `digits` decimals ("12.5 %"). */
export const fmtPct = (x, digits = 0) => t("num.percent", { n: i18n.fmtFixed(x, digits) });

function who(e) {
  if (e.kind === "MetricSample") return "MetricSample";
  return t("log.who", { kind: e.kind, order: e.order });
}

/** One event as a line of the log: [icon, text, tone]. */
export function describe(e) {
  switch (e.type) {
    case "order-created":
      return ["✉", t("log.order-created", { order: e.order, amount: fmtInt(e.amount) }), ""];
    case "message-sent":
      return [e.leg === "request" ? "→" : "←", t(e.leg === "request" ? "log.sent-request" : "log.sent-reply", { who: who(e) }), ""];
    case "message-delivered":
      return ["✓", t(e.leg === "request" ? "log.delivered-request" : "log.delivered-reply", { who: who(e) }), "good"];
    case "message-lost":
      if (e.reason === "receiver-down")
        return ["✗", t("log.lost-receiver-down", { who: who(e) }), "bad"];
      return ["✗", t(e.leg === "request" ? "log.lost-request" : "log.lost-reply", { who: who(e) }), "bad"];
    case "message-forgotten":
      return ["✗", t("log.forgotten", { who: who(e) }), "bad"];
    case "processing-started":
      return ["⚙", t("log.processing", { order: e.order }), ""];
    case "credit-reserved":
      return ["✚", t("log.credit-reserved", { amount: fmtInt(e.amount), order: e.order, reserved: fmtInt(e.reserved), available: fmtInt(e.available) }), "react"];
    case "credit-refused":
      return ["−", t("log.credit-refused", { order: e.order, available: fmtInt(e.available) }), ""];
    case "receiver-crashed": {
      const w = failureWords(e.point);
      return [w.icon, e.order ? t("log.receiver-crashed-order", { happened: w.happened, order: e.order }) : t("log.receiver-crashed", { happened: w.happened }), "bad"];
    }
    case "receiver-restarted":
      return ["↻", t("log.receiver-restarted", { reserved: fmtInt(e.reserved) }), ""];
    case "order-state-changed":
      return [e.to === "approved" ? "✓" : "✗", t("log.state-changed", { order: e.order, from: stateWord(e.from), to: stateWord(e.to) }), e.to === "approved" ? "good" : ""];
    case "order-consistent":
      return ["✓", t("log.consistent", { order: e.order, state: stateWord(e.state) }), "good"];
    case "order-diverged":
      return ["⚠", t("log.diverged", { order: e.order, reason: divergenceWords(e.divergence, e.reason) }), "alarm"];
    case "invariant-broken":
      return ["⚠", t("log.invariant-broken", { unbacked: fmtInt(e.unbacked) }), "alarm"];
    case "invariant-restored":
      return ["✓", t("log.invariant-restored"), "good"];
    case "sender-timeout":
      return ["?", t("log.sender-timeout", { order: e.order }), "unknown"];
    case "reply-ignored":
      return ["↷", t("log.reply-ignored", { order: e.order }), ""];
    case "failure-point-changed":
      if (e.why === "used") return ["•", t("log.failure-used", { label: failureWords(e.point).label }), ""];
      return ["•", t("log.failure-changed", { label: failureWords(e.point).label, mode: modeWords(e.mode, e.probability) }), ""];
    case "credit-limit-changed":
      return ["•", t("log.credit-limit", { limit: fmtInt(e.credit_limit) }), ""];
    case "sample-recorded":
      return ["✓", t("log.sample-recorded", { value: fmtNum(e.value), mean: fmtNum(e.seen_mean) }), ""];
    default:
      return ["•", e.type, ""];
  }
}

/** An order state (the engine's name: new, approved, cancelled) in words. */
export function stateWord(state) {
  return has(`state.${state}`) ? t(`state.${state}`) : String(state);
}

/** Why an order diverged, in words: the catalogue's "divergence.<kind>", else the engine's text. */
export function divergenceWords(kind, text) {
  if (kind && has(`divergence.${kind}`)) return t(`divergence.${kind}`);
  return text || kind || "";
}

export function modeWords(mode, probability) {
  if (mode === "on") return t("mode.on");
  if (mode === "next") return t("mode.next");
  if (probability > 0) return t("mode.random", { pct: fmtInt(Math.round(probability * 100)) });
  return t("mode.off");
}

/** A short phrase for one event of an order's story ("what actually happened"), or null. */
function storyStep(e) {
  switch (e.type) {
    case "message-delivered":
      return e.leg === "request" ? t("story.arrived") : t("story.reply-arrived");
    case "message-lost": {
      if (e.reason === "receiver-down") return t("story.lost-receiver-down");
      const w = failureWords(e.point || e.reason);
      return `${w.icon} ${w.happened}`;
    }
    case "credit-reserved":
      return t("story.credit-reserved");
    case "credit-refused":
      return t("story.refused");
    case "receiver-crashed": {
      const w = failureWords(e.point);
      return `${w.icon} ${w.happened}`;
    }
    case "message-forgotten":
      return `⚡ ${t("story.forgotten")}`;
    case "reply-ignored":
      return t("story.reply-ignored");
    default:
      return null;
  }
}

const CRASH = new Set(["receiver-crashed", "message-forgotten"]);

/**
 * An order's story from its events: [steps, saysReserved]. One crash tells one step (the
 * crash, or the forgetting it caused); an order that was already in the snapshot starts
 * with what the snapshot said.
 */
export function orderStory(o) {
  const steps = [];
  let saysReserved = false;
  if (o.at_snapshot && o.at_snapshot.credit_reserved) {
    steps.push(t("story.credit-reserved"));
    saysReserved = true;
  }
  let lastType = null;
  for (const e of o.history) {
    const step = storyStep(e);
    if (!step) continue;
    if (!(CRASH.has(e.type) && CRASH.has(lastType))) steps.push(step);
    if (e.type === "credit-reserved") saysReserved = true;
    lastType = e.type;
  }
  return [steps, saysReserved];
}

/** What the sender knows about an order: [icon, words]. The same for every failure. */
export function senderKnows(o) {
  if (o.sender_saw === "reply") {
    return o.order_state === "approved"
      ? ["✓", t("knows.reply", { kind: "CreditReserved" })]
      : ["✗", t("knows.reply", { kind: "InsufficientCredit" })];
  }
  if (o.sender_saw === "no-reply") return ["?", t("knows.no-reply")];
  return ["◷", t("knows.waiting")];
}

/** Samples lost, as "N of M (x.x %)"; `pct` is the share as shown (one decimal). */
export function samplesLostWords(lost, sent, pct) {
  return t("metrics.lost-of", { lost: fmtInt(lost), sent: fmtInt(sent), pct: i18n.fmtFixed(pct, 1) });
}

/** The line under the metrics: what the verdict is judged against. */
export function metricsTolerance(tolerancePct, maxLostPct) {
  return t("metrics.tolerance", { tolerance: fmtNum(tolerancePct), max_lost: fmtNum(maxLostPct) });
}

/**
 * The metrics verdict, computed from the figures on screen: [tone, icon, words]. tone is
 * "none" (nothing to judge yet), "ok" (within the tolerance) or "warn". errorPct is the
 * aggregate's error (average received against average sent, in % of the average sent), or
 * null before the first sample arrives.
 */
export function metricsVerdict({ sent, lost, received, lostPct, errorPct, tolerancePct, maxLostPct }) {
  if (!sent) return ["none", "◷", t("metrics.none-yet")];
  if (!received || errorPct === null) {
    return ["none", "◷", t("metrics.none-received", { lost: fmtInt(lost), sent: fmtInt(sent) })];
  }
  const error = fmtPct(errorPct, 2);
  const tolerance = fmtNum(tolerancePct);
  if (errorPct > tolerancePct) {
    return ["warn", "⚠", t("metrics.warn-error", { error, tolerance })];
  }
  if (lostPct > maxLostPct) {
    return ["warn", "⚠", t("metrics.warn-lost", { lost: i18n.fmtFixed(lostPct, 1), error, samples: tn("metrics.samples", received) })];
  }
  return ["ok", "✓", t("metrics.ok", { error, tolerance })];
}
