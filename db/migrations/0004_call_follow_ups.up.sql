-- What a caller was promised after the call, and how far it got: the text with a link a
-- caller who asked for information agreed to (`sms_link`), or an email from a person
-- when their number could not take one (`email`). One row per call and kind; the
-- recorder upserts it as the session reports `pending`, then `sent` or `failed`.

CREATE TABLE call_follow_ups (
    call_sid      text NOT NULL REFERENCES calls (call_sid) ON DELETE CASCADE,
    kind          text NOT NULL CHECK (kind IN ('sms_link', 'email')),
    to_number     text,
    status        text NOT NULL CHECK (status IN ('requested', 'pending', 'sent', 'failed')),
    -- Twilio's Message SID ("SM..."), once Twilio accepted the text.
    message_sid   text,
    link          text,
    -- Why it failed: Twilio's code and message, or what stopped it being sent.
    error         text,
    requested_at  timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    -- Outbox stream id of the last event applied (as on calls): a report re-delivered
    -- out of order never takes a follow-up back from `sent` to `pending`.
    last_event_id text NOT NULL,
    PRIMARY KEY (call_sid, kind)
);

-- Follow-ups still to do or to look at (texts that failed, emails for a person).
CREATE INDEX call_follow_ups_open_idx ON call_follow_ups (status, requested_at)
    WHERE status IN ('requested', 'pending', 'failed');
