-- The dialer (deployments/dialer.py) looks every second, across all campaigns, for the
-- attempts still in flight (queued: written but maybe not placed; dialing; in
-- progress). They are few; the settled ones pile up with every call, so they are kept
-- out of this index.
CREATE INDEX call_attempts_in_flight_idx ON call_attempts (created_at, id)
    WHERE status IN ('queued', 'dialing', 'in_progress');
