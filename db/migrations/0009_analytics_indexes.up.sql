-- GET /v1/calls pages by the key (started_at, call_sid), newest first, and every
-- analytics query starts from a started_at range: one index serves both. It makes
-- calls_started_at_idx (started_at DESC alone) redundant.
CREATE INDEX calls_started_at_call_sid_idx ON calls (started_at DESC, call_sid DESC);
DROP INDEX IF EXISTS calls_started_at_idx;

-- The campaign filter: a campaign's calls without reading its other attempts' rows.
CREATE INDEX call_attempts_campaign_call_idx ON call_attempts (campaign_id, call_sid)
    WHERE call_sid IS NOT NULL;

-- The latency question reads the turns of a time range by their own time as well.
CREATE INDEX turns_at_idx ON turns (at);
