// Words for what happened: event log lines, status announcements, order stories, and the
// one table of failure-point labels. Only wording lives here; every judgement comes from
// the engine's events.

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
 * A point missing here still gets a checkbox, labelled with its wire name.
 */
export const FAILURE_LABELS = {
  "request-lost": {
    label: "Request lost", icon: "✂", happened: "request lost",
    leg: "request", slider: "Request leg loss probability",
    effect: "OrderCreated never reaches the Customer service: no credit is reserved and the sender hears nothing.",
  },
  "crash-before-processing": {
    label: "Crash before processing", icon: "⚡", happened: "crashed before processing",
    chip: "top", explains: "Click: the receiver crashes when a message arrives, before processing it",
    effect: "The Customer service crashes before reacting: no credit is reserved, no reply comes.",
  },
  "crash-after-processing": {
    label: "Crash after processing", icon: "⚡", happened: "crashed after processing",
    chip: "bottom", explains: "Click: the receiver crashes after processing a message, before replying",
    effect: "The Customer service reserves the credit, then crashes before replying: credit is held and the sender hears nothing.",
  },
  "reply-lost": {
    label: "Reply lost", icon: "✂", happened: "reply lost",
    leg: "reply", slider: "Reply leg loss probability",
    effect: "Credit is reserved and the reply is lost: the sender hears nothing.",
  },
};

/** A failure point's entry in the table; an unknown point is called by its wire name. */
export function failureWords(point) {
  return FAILURE_LABELS[point] || { label: String(point), icon: "•", happened: String(point) };
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
    parts.push(`${failureWords(p).label} ${modeWords(f.mode, f.probability).replace(/^off, random/, "at random")}`);
  }
  return parts.join("; ");
}

/**
 * The header's and the caption's words for a run whose failure points were changed by a
 * command: {title, caption}. `scenarioTitle` is the scenario it started from.
 */
export function customRun(scenarioTitle, failures, points) {
  const on = switchedOn(failures, points);
  const title = `Custom run (from ${scenarioTitle})`;
  if (!on) {
    return { title, caption: `${title}: every failure point is off now; a change made earlier in this run may already have had its effect.` };
  }
  const effects = points
    .filter((p) => failures[p] && (failures[p].mode !== "off" || failures[p].probability > 0))
    .map((p) => failureWords(p).effect)
    .filter(Boolean);
  return { title, caption: `${title}: ${on}. ${effects.join(" ")}` };
}

/** The failure point switched by clicking a leg, among the points the run has, or null. */
export function pointOnLeg(points, leg) {
  for (const p of points) if (FAILURE_LABELS[p] && FAILURE_LABELS[p].leg === leg) return p;
  return null;
}

const lowerFirst = (s) => s.charAt(0).toLowerCase() + s.slice(1);
const COUNT = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"];

/** The note beside the orders: the sender hears the same silence for every failure point. */
export function sameSilence(points) {
  const n = points.length;
  return {
    text: `Same silence for all ${COUNT[n] || n} failures`,
    title: `The sender sees the same silence for every failure point: ${points.map((p) => lowerFirst(failureWords(p).label)).join(", ")}.`,
  };
}

/** A failure point's switch on the stage: "⚡ crash before processing". */
export function chipText(point) {
  return lowerFirst(failureWords(point).label);
}

/** Commands by the name of the control that sends them ("Play: no answer: ..."). */
const COMMAND_NAME = {
  "create-order": "Send order", play: "Play", pause: "Pause", step: "Step", reset: "Reset",
  speed: "Speed", scenario: "Scenario", seed: "Seed", "set-failure": "Failure point",
  "set-credit-limit": "Credit limit",
};

/** A command that got no answer in time: it may or may not have been applied. */
export function noAnswer(cmd) {
  return `${COMMAND_NAME[cmd] || cmd}: no answer: it may or may not have been applied`;
}

/** The run has nothing left to happen: a tally computed from the store's counts. */
export function runOver(t, counts, metricsRun) {
  const head = `Run over at t = ${fmtT(t)}: nothing left to happen.`;
  if (metricsRun) return `${head} Play or Reset to run it again.`;
  const n = counts.orders;
  const tally = n === 0 ? "No orders" : `${fmtInt(n)} ${n === 1 ? "order" : "orders"}: ` +
    `${fmtInt(counts.consistent)} consistent, ${fmtInt(counts.diverged)} diverged`;
  return `${head} ${tally}. Send order (N) to go on.`;
}

/** A Step with nothing left to happen. */
export const RUN_REPLACED = [
  "The server no longer had this run (it was restarted, or the run expired).",
  "A new run of the scenario started again at t = 0; what was shown before is gone.",
];
export const NOTHING_LEFT = "Step: nothing left to happen, the run is over. Send order (N) to go on.";

/** A command the server refused (a definite answer). */
export function refused(cmd, message) {
  return `Could not ${cmd.replace("-", " ")}: ${message}`;
}

const INT = new Intl.NumberFormat("en-US"); // one formatter: toLocaleString makes one per call
export const fmtInt = (n) => (typeof n === "number" ? INT.format(n) : "–");
export const fmtNum = (x) => (typeof x === "number" ? String(Number(x.toFixed(2))) : "–");
export const fmtT = (t) => `${t.toFixed(t < 100 ? 2 : 1)} s`;

function who(e) {
  if (e.kind === "MetricSample") return "MetricSample";
  return `${e.kind} for order #${e.order}`;
}

const LEG = { request: "request leg", reply: "reply leg" };

/** One event as a line of the log: [icon, text, tone]. */
export function describe(e) {
  switch (e.type) {
    case "order-created":
      return ["✉", `Order #${e.order} created (amount ${fmtInt(e.amount)}), state new`, ""];
    case "message-sent":
      return [e.leg === "request" ? "→" : "←", `${who(e)} sent on the ${LEG[e.leg]}`, ""];
    case "message-delivered":
      return ["✓", `${who(e)} delivered to the ${e.leg === "request" ? "Customer" : "Order"} service`, "good"];
    case "message-lost":
      if (e.reason === "receiver-down")
        return ["✗", `${who(e)} lost: the Customer service was down`, "bad"];
      return ["✗", `${who(e)} lost on the ${LEG[e.leg]}`, "bad"];
    case "message-forgotten":
      return ["✗", `${who(e)} forgotten: the crash wiped it from memory`, "bad"];
    case "processing-started":
      return ["⚙", `Customer service processing order #${e.order}`, ""];
    case "credit-reserved":
      return ["✚", `Customer service reserved ${fmtInt(e.amount)} credit for order #${e.order} (reserved ${fmtInt(e.reserved)}, available ${fmtInt(e.available)})`, "react"];
    case "credit-refused":
      return ["−", `Customer service refused order #${e.order}: insufficient credit (available ${fmtInt(e.available)})`, ""];
    case "receiver-crashed":
      return [failureWords(e.point).icon, `Customer service ${failureWords(e.point).happened}${e.order ? ` order #${e.order}` : ""}`, "bad"];
    case "receiver-restarted":
      return ["↻", `Customer service restarted (reserved ${fmtInt(e.reserved)} survived)`, ""];
    case "order-state-changed":
      return [e.to === "approved" ? "✓" : "✗", `Order #${e.order}: ${e.from} → ${e.to}`, e.to === "approved" ? "good" : ""];
    case "order-consistent":
      return ["✓", `Order #${e.order} consistent: both services agree (${e.state})`, "good"];
    case "order-diverged":
      return ["⚠", `Order #${e.order} diverged: ${e.reason || e.divergence}`, "alarm"];
    case "invariant-broken":
      return ["⚠", `ALARM: the Customer service holds ${fmtInt(e.unbacked)} credit that no approved order accounts for`, "alarm"];
    case "invariant-restored":
      return ["✓", "Credit held and approved orders agree again", "good"];
    case "sender-timeout":
      return ["?", `Order #${e.order}: no reply in time. The sender cannot tell what happened`, "unknown"];
    case "reply-ignored":
      return ["↷", `Late reply for order #${e.order} ignored: the sender stopped waiting`, ""];
    case "failure-point-changed":
      if (e.why === "used") return ["•", `${failureWords(e.point).label} fired once and is off again`, ""];
      return ["•", `${failureWords(e.point).label}: ${modeWords(e.mode, e.probability)}`, ""];
    case "credit-limit-changed":
      return ["•", `Credit limit set to ${fmtInt(e.credit_limit)}`, ""];
    case "sample-recorded":
      return ["✓", `MetricSample ${fmtNum(e.value)} recorded (average received ${fmtNum(e.seen_mean)})`, ""];
    default:
      return ["•", e.type, ""];
  }
}

export function modeWords(mode, probability) {
  if (mode === "on") return "on for every message";
  if (mode === "next") return "armed for the next message";
  if (probability > 0) return `off, random ${Math.round(probability * 100)}%`;
  return "off";
}

/** A short phrase for one event of an order's story ("what actually happened"), or null. */
function storyStep(e) {
  switch (e.type) {
    case "message-delivered":
      return e.leg === "request" ? "arrived" : "reply arrived";
    case "message-lost": {
      if (e.reason === "receiver-down") return "request lost: receiver down";
      const w = failureWords(e.point || e.reason);
      return `${w.icon} ${w.happened}`;
    }
    case "credit-reserved":
      return "credit reserved";
    case "credit-refused":
      return "refused: insufficient credit";
    case "receiver-crashed": {
      const w = failureWords(e.point);
      return `${w.icon} ${w.happened}`;
    }
    case "message-forgotten":
      return "⚡ forgotten in a crash";
    case "reply-ignored":
      return "late reply ignored";
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
    steps.push("credit reserved");
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
      ? ["✓", "reply: CreditReserved"]
      : ["✗", "reply: InsufficientCredit"];
  }
  if (o.sender_saw === "no-reply") return ["?", "no reply: did it happen or not?"];
  return ["◷", "waiting for a reply"];
}

/** Samples lost, as "N of M (x.x %)"; `pct` is the share as shown (one decimal). */
export function samplesLostWords(lost, sent, pct) {
  return `${fmtInt(lost)} of ${fmtInt(sent)} (${pct.toFixed(1)} %)`;
}

/** The line under the metrics: what the verdict is judged against. */
export function metricsTolerance(tolerancePct, maxLostPct) {
  return `Tolerance: the average received within ${tolerancePct} % of the average sent, ` +
    `and at most ${maxLostPct} % of the samples lost.`;
}

/**
 * The metrics verdict, computed from the figures on screen: [tone, icon, words]. tone is
 * "none" (nothing to judge yet), "ok" (within the tolerance) or "warn". errorPct is the
 * aggregate's error (average received against average sent, in % of the average sent), or
 * null before the first sample arrives.
 */
export function metricsVerdict({ sent, lost, received, lostPct, errorPct, tolerancePct, maxLostPct }) {
  if (!sent) return ["none", "◷", "No samples yet: press Play to stream them."];
  if (!received || errorPct === null) {
    return ["none", "◷", `No samples received yet: ${fmtInt(lost)} of ${fmtInt(sent)} lost so far.`];
  }
  const error = `${errorPct.toFixed(2)} %`;
  if (errorPct > tolerancePct) {
    return ["warn", "⚠", `Even metrics suffer at this loss rate: the average is ${error} off, beyond the ` +
      `${tolerancePct} % tolerance. No state is corrupted, but the figure is no longer trustworthy.`];
  }
  if (lostPct > maxLostPct) {
    return ["warn", "⚠", `Even metrics suffer at this loss rate: ${lostPct.toFixed(1)} % of the samples are ` +
      `lost; the average (${error} off) rests on only ${fmtInt(received)} ${received === 1 ? "sample" : "samples"}.`];
  }
  return ["ok", "✓", `Nothing corrupted: the average barely moved (${error}, within the ${tolerancePct} % ` +
    "tolerance). No state has to stay in step: a lost sample only thins the data."];
}
