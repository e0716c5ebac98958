-- Call records: one row per call, and the per-call histories the call report reads.
-- Child rows are keyed (call_sid, seq) so the recorder can insert them with
-- ON CONFLICT DO NOTHING: an outbox event delivered twice never adds a row twice.

CREATE TABLE calls (
    call_sid                text PRIMARY KEY,
    -- NULL until the session (or a Twilio status callback) tells us.
    direction               text CHECK (direction IN ('inbound', 'outbound')),
    mode                    text CHECK (mode IN ('audio', 'text')),
    from_number             text,
    to_number               text,
    answered_by             text,
    status                  text NOT NULL DEFAULT 'in_progress'
                            CHECK (status IN ('in_progress', 'completed', 'failed')),
    outcome                 text CHECK (outcome IN ('qualified', 'nurture', 'disqualified',
                                'opted_out', 'transferred', 'voicemail', 'abandoned')),
    qualification_score     double precision NOT NULL DEFAULT 0
                            CHECK (qualification_score BETWEEN 0 AND 1),
    -- The facts are columns, not a document, so they can be filtered and aggregated.
    budget_usd              double precision,
    decision_maker          boolean,
    need                    text,
    timeline_months         double precision,
    meeting_time            text,
    workflow_context_id     text,
    current_agent           text NOT NULL DEFAULT 'start',
    -- Kept equal to count(agent_transitions) by the recorder.
    agent_transition_count  integer NOT NULL DEFAULT 0 CHECK (agent_transition_count >= 0),
    tier                    text NOT NULL DEFAULT 'economy' CHECK (tier IN ('economy', 'premium')),
    -- The trigger of the first approved premium decision in tier_escalation_events.
    tier_escalation_trigger text,
    cost_usd                numeric(12, 6) NOT NULL DEFAULT 0 CHECK (cost_usd >= 0),
    cost_breakdown          jsonb NOT NULL
                            DEFAULT '{"telephony": 0, "stt": 0, "llm": 0, "tts": 0}'::jsonb,
    fallback_turns          integer NOT NULL DEFAULT 0 CHECK (fallback_turns >= 0),
    recovered               integer NOT NULL DEFAULT 0 CHECK (recovered >= 0),
    errors                  text[] NOT NULL DEFAULT '{}',
    started_at              timestamptz NOT NULL DEFAULT now(),
    ended_at                timestamptz,
    updated_at              timestamptz NOT NULL DEFAULT now(),
    -- True once the session's call_ended is applied: later snapshots no longer change the row.
    finalized               boolean NOT NULL DEFAULT false,
    -- Outbox stream id of the last snapshot applied (zero-padded so text order is stream
    -- order): a snapshot re-delivered out of order never overwrites a newer one.
    last_event_id           text
);

-- GET /v1/calls lists recent calls, optionally of one outcome, newest first.
CREATE INDEX calls_started_at_idx ON calls (started_at DESC);
CREATE INDEX calls_outcome_started_at_idx ON calls (outcome, started_at DESC);
-- Calls still open (dashboards, the stuck-call sweep) without scanning history.
CREATE INDEX calls_in_progress_idx ON calls (started_at) WHERE status = 'in_progress';

CREATE TABLE turns (
    call_sid    text NOT NULL REFERENCES calls (call_sid) ON DELETE CASCADE,
    seq         integer NOT NULL CHECK (seq >= 0),
    user_text   text NOT NULL,
    agent_text  text NOT NULL,
    agent       text NOT NULL,
    latency_ms  double precision,
    fallback    boolean NOT NULL DEFAULT false,
    at          timestamptz NOT NULL,
    PRIMARY KEY (call_sid, seq)
);

CREATE TABLE agent_transitions (
    call_sid                text NOT NULL REFERENCES calls (call_sid) ON DELETE CASCADE,
    seq                     integer NOT NULL CHECK (seq >= 0),
    from_agent              text NOT NULL,
    to_agent                text NOT NULL,
    trigger                 text NOT NULL,
    "timestamp"             timestamptz NOT NULL,
    transition_duration_ms  double precision NOT NULL DEFAULT 0,
    context_preserved       boolean NOT NULL DEFAULT true,
    PRIMARY KEY (call_sid, seq)
);

-- Transition counts per agent over a time window (the agent transition metric).
CREATE INDEX agent_transitions_timestamp_idx ON agent_transitions ("timestamp");

CREATE TABLE tier_escalation_events (
    call_sid    text NOT NULL REFERENCES calls (call_sid) ON DELETE CASCADE,
    seq         integer NOT NULL CHECK (seq >= 0),
    tier        text NOT NULL CHECK (tier IN ('economy', 'premium')),
    at          timestamptz NOT NULL,
    trigger     text NOT NULL,
    approved    boolean NOT NULL,
    reason      text NOT NULL,
    PRIMARY KEY (call_sid, seq)
);

-- The tier escalation rate over a time window.
CREATE INDEX tier_escalation_events_at_idx ON tier_escalation_events (at);

-- Twilio status callbacks, as received.
CREATE TABLE call_status_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The outbox event id: a re-delivered callback event is stored once.
    event_id     text NOT NULL UNIQUE,
    call_sid     text NOT NULL REFERENCES calls (call_sid) ON DELETE CASCADE,
    call_status  text NOT NULL,
    params       jsonb NOT NULL DEFAULT '{}'::jsonb,
    received_at  timestamptz NOT NULL
);

CREATE INDEX call_status_events_call_sid_idx ON call_status_events (call_sid, received_at);
