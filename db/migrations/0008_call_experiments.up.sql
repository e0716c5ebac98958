-- The experiment a call took part in and the variant it was given (DESIGN.md
-- "Experiments and analytics"); both NULL when the call was in none. Assignment is
-- sticky per lead, so a lead's calls carry the same pair.
ALTER TABLE calls
    ADD COLUMN experiment text,
    ADD COLUMN variant    text,
    ADD CONSTRAINT calls_variant_needs_experiment
        CHECK (variant IS NULL OR experiment IS NOT NULL);

-- GET /v1/analytics/experiments/{name}: one experiment's calls over a time range.
CREATE INDEX calls_experiment_idx ON calls (experiment, started_at)
    WHERE experiment IS NOT NULL;
