DROP INDEX IF EXISTS turns_at_idx;
DROP INDEX IF EXISTS call_attempts_campaign_call_idx;
CREATE INDEX IF NOT EXISTS calls_started_at_idx ON calls (started_at DESC);
DROP INDEX IF EXISTS calls_started_at_call_sid_idx;
