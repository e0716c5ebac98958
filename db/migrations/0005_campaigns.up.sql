-- Outbound campaigns: a list of leads, the attempts to call each, and what the dialer
-- needs to pace them. The dialer (a Serve deployment) reads and writes these; the API
-- creates campaigns and moves them between states.

CREATE TABLE campaigns (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name              text NOT NULL CHECK (name <> ''),
    -- draft -> running <-> paused; any of those -> cancelled; running -> completed
    -- (the dialer, when every lead is finished). db/campaigns.py holds the transitions.
    state             text NOT NULL DEFAULT 'draft'
                      CHECK (state IN ('draft', 'running', 'paused', 'cancelled', 'completed')),
    -- Pacing, fixed when the campaign is created (defaults: the `campaigns` settings).
    max_concurrent    integer NOT NULL CHECK (max_concurrent >= 1),
    calls_per_minute  integer NOT NULL CHECK (calls_per_minute >= 1),
    max_attempts      integer NOT NULL CHECK (max_attempts >= 1),
    retry_after_s     double precision NOT NULL CHECK (retry_after_s >= 0),
    -- Calling hours in each lead's local time: [window_start, window_end).
    window_start      time NOT NULL,
    window_end        time NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    -- First start, and when it was cancelled or completed.
    started_at        timestamptz,
    finished_at       timestamptz,
    CHECK (window_start < window_end)
);

-- The dialer looks for campaigns with work to do.
CREATE INDEX campaigns_active_idx ON campaigns (id) WHERE state = 'running';

CREATE TABLE leads (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id     bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    -- The 1-based data row of the CSV it came from.
    row_number      integer NOT NULL CHECK (row_number >= 1),
    -- E.164, as the do-not-call list and Twilio compare numbers.
    number          text NOT NULL CHECK (number ~ '^\+[1-9][0-9]{1,14}$'),
    name            text,
    company         text,
    -- IANA name, from the CSV's `timezone` or the number; NULL when neither settles
    -- it (a number whose country spans several zones, or a fictional one).
    timezone        text,
    -- The CSV's other columns, by their header.
    data            jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- For the dialer: when the lead may be tried next (NULL: now), and when it needs no
    -- more attempts (answered with a final outcome, opted out, out of attempts).
    next_attempt_at timestamptz,
    finished_at     timestamptz,
    UNIQUE (campaign_id, number)
);

-- A lead's history across campaigns (GET /v1/leads/{number}).
CREATE INDEX leads_number_idx ON leads (number);
-- Leads of a campaign still to call, soonest first.
CREATE INDEX leads_due_idx ON leads (campaign_id, next_attempt_at) WHERE finished_at IS NULL;

CREATE TABLE call_attempts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lead_id         bigint NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
    -- The lead's campaign, kept here so status counts need no join.
    campaign_id     bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    attempt         integer NOT NULL CHECK (attempt >= 1),
    -- Written before the call is placed and sent with it (`?attempt=KEY` on the voice
    -- URL): a restarted dialer finds the attempt it may already have placed instead of
    -- placing it again (Twilio's Calls API has no idempotency key of its own).
    idempotency_key text NOT NULL UNIQUE,
    -- Twilio's CallSid, once the call is created.
    call_sid        text UNIQUE,
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'dialing', 'in_progress', 'completed',
                        'no_answer', 'busy', 'failed', 'voicemail', 'skipped')),
    -- The call's outcome (the `calls` outcomes), once its record is final.
    outcome         text CHECK (outcome IN ('qualified', 'nurture', 'disqualified',
                        'opted_out', 'transferred', 'voicemail', 'abandoned')),
    -- Why it failed or was skipped (Twilio's error, "on the do-not-call list", ...).
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    dialed_at       timestamptz,
    ended_at        timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (lead_id, attempt)
);

CREATE INDEX call_attempts_campaign_idx ON call_attempts (campaign_id, status);

-- Who put each number on the list: the API, or the call where the caller opted out.
-- Derived, so the recorder's opt-outs (which write source_call_sid) need no change.
ALTER TABLE do_not_call
    ADD COLUMN source text GENERATED ALWAYS AS (coalesce(source_call_sid, 'api')) STORED,
    ADD COLUMN reason text;

-- Every change an admin makes to the list through the API. A removal lets a number be
-- called again, so it is kept here for good even though the entry itself is gone.
CREATE TABLE do_not_call_audit (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    number  text NOT NULL,
    action  text NOT NULL CHECK (action IN ('added', 'removed')),
    -- `api` for now; the entry's own source is kept on removal in `entry_source`.
    actor   text NOT NULL,
    entry_source text,
    reason  text,
    at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX do_not_call_audit_number_idx ON do_not_call_audit (number, at);
