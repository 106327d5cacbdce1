"""The project's vocabulary: one name per thing, used by engine, protocol, CLI and UI."""

REQUEST_LOST = "request-lost"
CRASH_BEFORE = "crash-before-processing"
CRASH_AFTER = "crash-after-processing"
REPLY_LOST = "reply-lost"

FAILURE_POINTS = (REQUEST_LOST, CRASH_BEFORE, CRASH_AFTER, REPLY_LOST)

# How a failure point is switched: off, armed for the next message only, or on until off.
MODES = ("off", "next", "on")

# How the Order service calls the Customer service: asynchronously (send and go on: any
# number of calls outstanding), or synchronously (one call at a time, blocking until its
# reply arrives or its reply timeout passes; orders created meanwhile wait in a queue).
ASYNC = "async"
SYNC = "sync"
CALL_MODES = (ASYNC, SYNC)

REQUEST = "request"
REPLY = "reply"

# Message kinds carried on the legs.
ORDER_CREATED = "OrderCreated"
CREDIT_RESERVED = "CreditReserved"
INSUFFICIENT_CREDIT = "InsufficientCredit"
METRIC_SAMPLE = "MetricSample"

# Order states at the sender (the simulation stores the index into this tuple).
NEW = "new"
APPROVED = "approved"
CANCELLED = "cancelled"
ORDER_STATES = (NEW, APPROVED, CANCELLED)

# What the sender saw of an order (the simulation stores the index into this tuple).
WAITING = "waiting"
SAW_REPLY = "reply"
SAW_NO_REPLY = "no-reply"
SENDER_SAW = (WAITING, SAW_REPLY, SAW_NO_REPLY)

# The engine's judgement of one order (the simulation stores the index into this tuple).
IN_FLIGHT = "in-flight"
CONSISTENT = "consistent"
DIVERGED = "diverged"
VERDICTS = (IN_FLIGHT, CONSISTENT, DIVERGED)

# Kinds of divergence, with the words the UI shows (index 0 of DIVERGENCE_KINDS: none).
RESERVED_NOT_APPROVED = "reserved-not-approved"
STUCK_NEW = "stuck-new"
DIVERGENCE_KINDS = (None, RESERVED_NOT_APPROVED, STUCK_NEW)
DIVERGENCE_TEXT = {
    RESERVED_NOT_APPROVED: "credit reserved by the Customer service, order never approved",
    STUCK_NEW: "order stuck in new: never approved nor cancelled, no credit held for it",
}

# Why a message was lost: a failure point (request-lost, reply-lost), or this.
RECEIVER_DOWN = "receiver-down"

# Event types of the synchronous call mode (docs/events.md, "The sender (Order service)").
CALL_QUEUED = "call-queued"
CALL_STARTED = "call-started"
