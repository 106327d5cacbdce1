"""The project's vocabulary: one name per thing, used by engine, protocol, CLI and UI."""

REQUEST_LOST = "request-lost"
CRASH_BEFORE = "crash-before-processing"
CRASH_AFTER = "crash-after-processing"
REPLY_LOST = "reply-lost"
# The Order service (sender) crashes just after putting an OrderCreated on the request leg
# (any attempt) and restarts after ``restart_after``: what its outbox kept decides what
# it still knows (docs/semantics.md).
SENDER_CRASH = "sender-crash"

FAILURE_POINTS = (REQUEST_LOST, CRASH_BEFORE, CRASH_AFTER, REPLY_LOST, SENDER_CRASH)
# The seed's four places where the request/response cycle breaks: the sender sees the same
# silence for each (a sender crash it knows of: it is its own).
SEED_FAILURE_POINTS = (REQUEST_LOST, CRASH_BEFORE, CRASH_AFTER, REPLY_LOST)

# How a failure point is switched: off, armed for the next message only, or on until off.
MODES = ("off", "next", "on")

# How the Order service calls the Customer service: asynchronously (send and go on: any
# number of calls outstanding), or synchronously (one call at a time, blocking until its
# reply arrives or its reply timeout passes; orders created meanwhile wait in a queue).
ASYNC = "async"
SYNC = "sync"
CALL_MODES = (ASYNC, SYNC)

# Delivery semantics (docs/semantics.md): what the sender does when no reply comes and
# what the receiver does with a duplicate.
AT_MOST_ONCE = "at-most-once"  # no retry (the seed's case)
AT_LEAST_ONCE = "at-least-once"  # retries; the receiver reacts to every copy
EXACTLY_ONCE = "exactly-once"  # retries; the receiver deduplicates by order id
SEMANTICS = (AT_MOST_ONCE, AT_LEAST_ONCE, EXACTLY_ONCE)

# Where the sender keeps its unanswered orders (what it waits for, its retries): lost in a
# sender crash (memory) or kept (durable).
MEMORY = "memory"
DURABLE = "durable"
OUTBOXES = (MEMORY, DURABLE)

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
DOUBLE_RESERVED = "double-reserved"
DIVERGENCE_KINDS = (None, RESERVED_NOT_APPROVED, STUCK_NEW, DOUBLE_RESERVED)
DIVERGENCE_TEXT = {
    RESERVED_NOT_APPROVED: "credit reserved by the Customer service, order never approved",
    STUCK_NEW: "order stuck in new: never approved nor cancelled, no credit held for it",
    DOUBLE_RESERVED: "credit reserved more than once for one order: a duplicate was "
                     "processed again",
}

# Why a message was lost: a failure point (request-lost, reply-lost), or these.
RECEIVER_DOWN = "receiver-down"
SENDER_DOWN = "sender-down"

# Why a reply was ignored by the sender.
AFTER_TIMEOUT = "after-timeout"  # it gave up (its last attempt timed out)
ALREADY_ANSWERED = "already-answered"  # an earlier reply already decided the order
OUTBOX_LOST = "outbox-lost"  # a sender crash lost the entry that waited for it

# Event types of the retrying semantics and the sender crash (docs/events.md).
RETRY_SCHEDULED = "retry-scheduled"
DUPLICATE_DELIVERED = "duplicate-delivered"
DUPLICATE_SUPPRESSED = "duplicate-suppressed"
SENDER_CRASHED = "sender-crashed"
SENDER_RESTARTED = "sender-restarted"

# Event types of the synchronous call mode (docs/events.md, "The sender (Order service)").
CALL_QUEUED = "call-queued"
CALL_STARTED = "call-started"
