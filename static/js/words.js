// Words for what happened: event log lines, status announcements, order stories.
// Only wording lives here; every judgement comes from the engine's events.

export const POINT_LABEL = {
  "request-lost": "Request lost",
  "crash-before-processing": "Crash before processing",
  "crash-after-processing": "Crash after processing",
  "reply-lost": "Reply lost",
};

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
      return ["⚡", `Customer service crashed ${e.point === "crash-before-processing" ? "before" : "after"} processing${e.order ? ` order #${e.order}` : ""}`, "bad"];
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
      if (e.why === "used") return ["•", `${POINT_LABEL[e.point]} fired once and is off again`, ""];
      return ["•", `${POINT_LABEL[e.point]}: ${modeWords(e.mode, e.probability)}`, ""];
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

/** A short phrase for an order's story ("what actually happened"), or null. */
export function storyStep(e) {
  switch (e.type) {
    case "message-delivered":
      return e.leg === "request" ? "arrived" : "reply arrived";
    case "message-lost":
      if (e.reason === "receiver-down") return "request lost: receiver down";
      return e.leg === "request" ? "✂ request lost" : "✂ reply lost";
    case "credit-reserved":
      return "credit reserved";
    case "credit-refused":
      return "refused: insufficient credit";
    case "receiver-crashed":
      return e.point === "crash-before-processing"
        ? "⚡ crashed before processing" : "⚡ crashed before replying";
    case "message-forgotten":
      return "⚡ forgotten in a crash";
    case "reply-ignored":
      return "late reply ignored";
    default:
      return null;
  }
}

/** What the sender knows about an order: [icon, words]. The same for every failure. */
export function senderKnows(o) {
  if (o.saw === "reply") {
    return o.state === "approved"
      ? ["✓", "reply: CreditReserved"]
      : ["✗", "reply: InsufficientCredit"];
  }
  if (o.saw === "no-reply") return ["?", "no reply: did it happen or not?"];
  return ["◷", "waiting for a reply"];
}
