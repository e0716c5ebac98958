DROP INDEX IF EXISTS call_attempts_in_flight_idx;
