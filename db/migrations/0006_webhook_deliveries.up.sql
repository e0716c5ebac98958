-- Post-call webhooks: one row per (call, event type, endpoint), written in the same
-- transaction that makes the call's record final, so an event is never lost and never
-- made twice. The recorder replicas' delivery workers share the rows with
-- FOR UPDATE SKIP LOCKED and a lease (`next_attempt_at`), so no row lock is held while
-- a receiver is being called.

CREATE TABLE webhook_deliveries (
    id               bigserial PRIMARY KEY,
    -- The event's id as receivers see it: the same for every endpoint and every attempt
    -- of one (call, type), so a receiver can drop duplicates.
    event_id         text NOT NULL,
    call_sid         text NOT NULL REFERENCES calls (call_sid) ON DELETE CASCADE,
    type             text NOT NULL CHECK (type IN ('call.completed', 'lead.qualified',
                         'meeting.booked', 'lead.opted_out')),
    -- The endpoint's URL (SWITCHBOARD_WEBHOOKS); its secret stays in the settings.
    endpoint         text NOT NULL,
    -- When the event happened: the commit that made the record final.
    created_at       timestamptz NOT NULL DEFAULT now(),
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivered', 'dead')),
    -- Attempts made (a claimed attempt counts even if its worker died during it).
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- Pending: when it may be tried next. While an attempt is under way, the end of
    -- that worker's lease, after which another worker may take it over.
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    -- The request body, frozen at the first attempt: every retry (and a replay) sends
    -- the same bytes; only the signature's timestamp changes.
    body             text,
    last_status_code integer,
    last_error       text,
    delivered_at     timestamptz,
    dead_at          timestamptz,
    UNIQUE (call_sid, type, endpoint)
);

-- What the workers poll: pending rows that are due.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
-- The dead-letter list (`switchboard webhooks replay --all-dead`).
CREATE INDEX webhook_deliveries_dead_idx ON webhook_deliveries (dead_at)
    WHERE status = 'dead';
-- `switchboard webhooks replay --id ID`.
CREATE INDEX webhook_deliveries_event_id_idx ON webhook_deliveries (event_id);
