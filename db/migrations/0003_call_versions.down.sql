DROP INDEX IF EXISTS calls_config_version_idx;

ALTER TABLE calls
    DROP COLUMN IF EXISTS integration_enabled,
    DROP COLUMN IF EXISTS trace_id,
    DROP COLUMN IF EXISTS app_version,
    DROP COLUMN IF EXISTS app,
    DROP COLUMN IF EXISTS flags,
    DROP COLUMN IF EXISTS config_version;
