DROP INDEX IF EXISTS calls_experiment_idx;

ALTER TABLE calls
    DROP CONSTRAINT IF EXISTS calls_variant_needs_experiment,
    DROP COLUMN IF EXISTS variant,
    DROP COLUMN IF EXISTS experiment;
