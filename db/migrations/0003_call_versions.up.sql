-- What each call ran on: the live settings version (`user_config`), the feature flags
-- it was given, the application and code version that served it, its trace, and
-- whether the agents answered it (or the direct path only).

ALTER TABLE calls
    ADD COLUMN config_version text,
    ADD COLUMN flags          jsonb NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN app            text,
    ADD COLUMN app_version    text,
    ADD COLUMN trace_id       text,
    ADD COLUMN integration_enabled boolean;

-- Comparing versions in a rollout: calls of one version, newest first.
CREATE INDEX calls_config_version_idx ON calls (config_version, started_at DESC);
