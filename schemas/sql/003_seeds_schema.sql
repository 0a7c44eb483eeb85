-- The rest of the seeds' (HLD/LLD) schema, on top of 001 and 002, applied to databases that
-- already hold data (tests/integration/test_seeds_migration.py).
--
-- UUIDs: every table gets the seeds' `uuid` identity (gen_random_uuid(), unique), beside its
-- text key. The text keys stay the primary keys: they are the Kafka keys and they are
-- deterministic (experiment "-v<i>" variations, "<experiment>#r<round>" tests), which is what
-- makes every sink write idempotent under at-least-once delivery. A random uuid primary key
-- would make a replayed event a second row.

-- updated_at, kept by the database on every UPDATE.
CREATE OR REPLACE FUNCTION promptopt_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

-- teams: the seeds' organization and settings.
ALTER TABLE teams
    ADD COLUMN IF NOT EXISTS uuid uuid NOT NULL DEFAULT gen_random_uuid(),
    ADD COLUMN IF NOT EXISTS organization text NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS settings jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now();

-- users: role came with 002; preferences and updated_at.
ALTER TABLE users
    ADD COLUMN IF NOT EXISTS uuid uuid NOT NULL DEFAULT gen_random_uuid(),
    ADD COLUMN IF NOT EXISTS preferences jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now();

ALTER TABLE api_keys
    ADD COLUMN IF NOT EXISTS uuid uuid NOT NULL DEFAULT gen_random_uuid();

-- optimizations: the user foreign key came with 002 (user_id REFERENCES users).
ALTER TABLE optimizations
    ADD COLUMN IF NOT EXISTS uuid uuid NOT NULL DEFAULT gen_random_uuid(),
    ADD COLUMN IF NOT EXISTS confidence_score double precision,
    ADD COLUMN IF NOT EXISTS metadata jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now();

ALTER TABLE optimization_variations
    ADD COLUMN IF NOT EXISTS uuid uuid NOT NULL DEFAULT gen_random_uuid();

ALTER TABLE ab_tests
    ADD COLUMN IF NOT EXISTS uuid uuid NOT NULL DEFAULT gen_random_uuid(),
    ADD COLUMN IF NOT EXISTS name text NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS description text NOT NULL DEFAULT '',
    -- Trials planned per variation (test cases x models x repetitions).
    ADD COLUMN IF NOT EXISTS sample_size integer,
    -- 1 - the smallest adjusted p-value against the control (NULL until there is one).
    ADD COLUMN IF NOT EXISTS statistical_significance double precision,
    ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now();

ALTER TABLE test_variations
    ADD COLUMN IF NOT EXISTS uuid uuid NOT NULL DEFAULT gen_random_uuid(),
    ADD COLUMN IF NOT EXISTS variation_name text,
    ADD COLUMN IF NOT EXISTS prompt_text text,
    ADD COLUMN IF NOT EXISTS models text[] NOT NULL DEFAULT '{}';

-- patterns: the library (written by `migrate`, agents/sinks/migrate.py) with its measured
-- success rate, kept up to date by the trigger below from pattern_outcomes.
ALTER TABLE patterns
    ADD COLUMN IF NOT EXISTS uuid uuid NOT NULL DEFAULT gen_random_uuid(),
    ADD COLUMN IF NOT EXISTS success_rate double precision NOT NULL DEFAULT 0.5,
    ADD COLUMN IF NOT EXISTS trials integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS successes integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS examples jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN IF NOT EXISTS metadata jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now();

CREATE UNIQUE INDEX IF NOT EXISTS teams_uuid ON teams (uuid);
CREATE UNIQUE INDEX IF NOT EXISTS users_uuid ON users (uuid);
CREATE UNIQUE INDEX IF NOT EXISTS api_keys_uuid ON api_keys (uuid);
CREATE UNIQUE INDEX IF NOT EXISTS optimizations_uuid ON optimizations (uuid);
CREATE UNIQUE INDEX IF NOT EXISTS optimization_variations_uuid ON optimization_variations (uuid);
CREATE UNIQUE INDEX IF NOT EXISTS ab_tests_uuid ON ab_tests (uuid);
CREATE UNIQUE INDEX IF NOT EXISTS test_variations_uuid ON test_variations (uuid);
CREATE UNIQUE INDEX IF NOT EXISTS patterns_uuid ON patterns (uuid);

-- Backfill what earlier rows can tell.
UPDATE ab_tests t SET name = o.name FROM optimizations o
WHERE t.optimization_id = o.id AND t.name = '';
UPDATE ab_tests t SET statistical_significance = 1 - m.p
FROM (SELECT test_id, min(p_adjusted) AS p FROM test_variations
      WHERE NOT is_control AND p_adjusted IS NOT NULL GROUP BY test_id) m
WHERE t.id = m.test_id AND t.statistical_significance IS NULL;
UPDATE test_variations tv SET variation_name = v.name, prompt_text = v.prompt
FROM optimization_variations v WHERE tv.variation_id = v.id AND tv.variation_name IS NULL;
UPDATE test_variations tv SET models = o.models
FROM ab_tests t JOIN optimizations o ON o.id = t.optimization_id
WHERE tv.test_id = t.id AND tv.models = '{}';
-- (patterns' counts from earlier outcomes: agents/sinks/migrate.py recounts them once the
-- library rows are written.)

-- CHECK constraints: the values the product writes, and nothing else.
ALTER TABLE optimizations DROP CONSTRAINT IF EXISTS optimizations_status_check;
ALTER TABLE optimizations ADD CONSTRAINT optimizations_status_check
    CHECK (status IN ('submitted', 'running', 'completed', 'failed', 'stopped'));
ALTER TABLE optimizations DROP CONSTRAINT IF EXISTS optimizations_confidence_check;
ALTER TABLE optimizations ADD CONSTRAINT optimizations_confidence_check
    CHECK (confidence_score IS NULL OR confidence_score BETWEEN 0 AND 1);
ALTER TABLE optimizations DROP CONSTRAINT IF EXISTS optimizations_goals_check;
ALTER TABLE optimizations ADD CONSTRAINT optimizations_goals_check
    CHECK (goals <@ ARRAY['clarity', 'engagement', 'accuracy', 'efficiency', 'creativity']);
ALTER TABLE ab_tests DROP CONSTRAINT IF EXISTS ab_tests_status_check;
ALTER TABLE ab_tests ADD CONSTRAINT ab_tests_status_check
    CHECK (status IN ('running', 'completed'));
ALTER TABLE ab_tests DROP CONSTRAINT IF EXISTS ab_tests_decision_check;
ALTER TABLE ab_tests ADD CONSTRAINT ab_tests_decision_check
    CHECK (decision IN ('running', 'winner', 'control-best', 'futile', 'inconclusive'));
ALTER TABLE ab_tests DROP CONSTRAINT IF EXISTS ab_tests_figures_check;
ALTER TABLE ab_tests ADD CONSTRAINT ab_tests_figures_check CHECK (
    alpha > 0 AND alpha < 1 AND trials_expected >= 0 AND trials_done >= 0
    AND trials_failed >= 0 AND cost_usd >= 0 AND (sample_size IS NULL OR sample_size >= 0)
    AND (statistical_significance IS NULL OR statistical_significance BETWEEN 0 AND 1)
    AND (srm_p_value IS NULL OR srm_p_value BETWEEN 0 AND 1));
ALTER TABLE test_variations DROP CONSTRAINT IF EXISTS test_variations_figures_check;
ALTER TABLE test_variations ADD CONSTRAINT test_variations_figures_check CHECK (
    n >= 0 AND n_failed >= 0 AND cost_usd >= 0
    AND (p_value IS NULL OR p_value BETWEEN 0 AND 1)
    AND (p_adjusted IS NULL OR p_adjusted BETWEEN 0 AND 1)
    AND (p_always_valid IS NULL OR p_always_valid BETWEEN 0 AND 1)
    AND (p_best IS NULL OR p_best BETWEEN 0 AND 1));
ALTER TABLE patterns DROP CONSTRAINT IF EXISTS patterns_success_rate_check;
ALTER TABLE patterns ADD CONSTRAINT patterns_success_rate_check CHECK (
    success_rate BETWEEN 0 AND 1 AND trials >= 0 AND successes BETWEEN 0 AND trials);
ALTER TABLE users DROP CONSTRAINT IF EXISTS users_rate_limit_check;
ALTER TABLE users ADD CONSTRAINT users_rate_limit_check CHECK (rate_limit_per_minute >= 0);

-- The seeds' indexes: experiments by goal (GIN), and the work still under way (partial
-- indexes on status: small, and what a dashboard or a sweeper asks for).
CREATE INDEX IF NOT EXISTS optimizations_goals ON optimizations USING gin (goals);
CREATE INDEX IF NOT EXISTS optimizations_open ON optimizations (submitted_at DESC)
    WHERE status IN ('submitted', 'running');
CREATE INDEX IF NOT EXISTS ab_tests_running ON ab_tests (started_at DESC)
    WHERE status = 'running';
CREATE INDEX IF NOT EXISTS patterns_by_type ON patterns (type, success_rate DESC);
CREATE INDEX IF NOT EXISTS patterns_use_cases ON patterns USING gin (use_cases);

DROP TRIGGER IF EXISTS teams_touch ON teams;
CREATE TRIGGER teams_touch BEFORE UPDATE ON teams
    FOR EACH ROW EXECUTE FUNCTION promptopt_touch();
DROP TRIGGER IF EXISTS users_touch ON users;
CREATE TRIGGER users_touch BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION promptopt_touch();
DROP TRIGGER IF EXISTS optimizations_touch ON optimizations;
CREATE TRIGGER optimizations_touch BEFORE UPDATE ON optimizations
    FOR EACH ROW EXECUTE FUNCTION promptopt_touch();
DROP TRIGGER IF EXISTS ab_tests_touch ON ab_tests;
CREATE TRIGGER ab_tests_touch BEFORE UPDATE ON ab_tests
    FOR EACH ROW EXECUTE FUNCTION promptopt_touch();
DROP TRIGGER IF EXISTS patterns_touch ON patterns;
CREATE TRIGGER patterns_touch BEFORE UPDATE ON patterns
    FOR EACH ROW EXECUTE FUNCTION promptopt_touch();

-- patterns.success_rate follows pattern_outcomes: each outcome actually inserted (a replay's
-- ON CONFLICT DO NOTHING inserts nothing, so fires nothing) adds one to the pattern's count.
-- The rate is the Beta(1, 1) posterior mean over every domain and model; the per-domain,
-- per-model posteriors stay in the pattern_statistics view. A pattern not in the library
-- (mined from winners) gets a row of its own.
CREATE OR REPLACE FUNCTION promptopt_pattern_outcome() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO patterns AS p (id, name, type, description, template, trials, successes,
                               success_rate, metadata)
    VALUES (NEW.pattern_id, NEW.pattern_id, 'mined', '', '', 1, NEW.success::int,
            (1 + NEW.success::int)::double precision / 3, '{"source": "outcomes"}')
    ON CONFLICT (id) DO UPDATE SET
        trials = p.trials + 1,
        successes = p.successes + NEW.success::int,
        success_rate = (1 + p.successes + NEW.success::int)::double precision
                       / (2 + p.trials + 1);
    RETURN NEW;
END
$$;
DROP TRIGGER IF EXISTS pattern_outcomes_rate ON pattern_outcomes;
CREATE TRIGGER pattern_outcomes_rate AFTER INSERT ON pattern_outcomes
    FOR EACH ROW EXECUTE FUNCTION promptopt_pattern_outcome();
