-- Numbers that must never be dialled again.
-- No foreign key to calls: the list must outlive call records (which may be purged),
-- and numbers may be added by the API without any call.

CREATE TABLE do_not_call (
    number           text PRIMARY KEY CHECK (number <> ''),
    added_at         timestamptz NOT NULL DEFAULT now(),
    source_call_sid  text
);
