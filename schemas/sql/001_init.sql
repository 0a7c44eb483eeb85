-- Core records of promptopt. Every sink write is idempotent: inserts are
-- ON CONFLICT DO NOTHING, and analysis upserts only move forward in `seq`.

CREATE TABLE IF NOT EXISTS teams (
    id          text PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS users (
    id          text PRIMARY KEY,
    email       text NOT NULL UNIQUE,
    name        text NOT NULL DEFAULT '',
    team_id     text REFERENCES teams(id),
    rate_limit_per_minute integer NOT NULL DEFAULT 60,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS api_keys (
    id          text PRIMARY KEY,
    user_id     text NOT NULL REFERENCES users(id),
    key_hash    text NOT NULL UNIQUE,
    name        text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE IF NOT EXISTS optimizations (
    id                  text PRIMARY KEY,          -- the experiment id
    name                text NOT NULL,
    prompt              text NOT NULL,
    system              text,
    domain              text NOT NULL,
    goals               text[] NOT NULL,
    models              text[] NOT NULL,
    spec                jsonb NOT NULL,
    status              text NOT NULL DEFAULT 'submitted',  -- submitted | running | completed
    submitted_by        text,
    best_variation_id   text,
    best_score          double precision,
    improvement         double precision,
    submitted_at        timestamptz NOT NULL,
    completed_at        timestamptz
);

CREATE TABLE IF NOT EXISTS optimization_variations (
    id                  text PRIMARY KEY,
    optimization_id     text NOT NULL REFERENCES optimizations(id),
    round               integer NOT NULL,
    name                text NOT NULL,
    prompt              text NOT NULL,
    system              text,
    is_control          boolean NOT NULL,
    patterns            text[] NOT NULL,
    rewrites            text[] NOT NULL,
    rationale           text NOT NULL,
    predicted_score     double precision,
    created_at          timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS optimization_variations_by_optimization
    ON optimization_variations (optimization_id, round);

CREATE TABLE IF NOT EXISTS ab_tests (
    id                  text PRIMARY KEY,          -- experiment id + '#r' + round
    optimization_id     text NOT NULL REFERENCES optimizations(id),
    round               integer NOT NULL,
    status              text NOT NULL DEFAULT 'running',    -- running | completed
    decision            text NOT NULL DEFAULT 'running',
    winner_variation_id text,
    reason              text NOT NULL DEFAULT '',
    metric              text NOT NULL DEFAULT 'score',
    alpha               double precision NOT NULL DEFAULT 0.05,
    correction          text NOT NULL DEFAULT 'holm',
    trials_expected     integer NOT NULL DEFAULT 0,
    trials_done         integer NOT NULL DEFAULT 0,
    trials_failed       integer NOT NULL DEFAULT 0,
    cost_usd            double precision NOT NULL DEFAULT 0,
    budget_exhausted    boolean NOT NULL DEFAULT false,
    srm_p_value         double precision,
    seq                 integer NOT NULL DEFAULT -1,
    started_at          timestamptz NOT NULL,
    completed_at        timestamptz
);

CREATE TABLE IF NOT EXISTS test_variations (
    test_id             text NOT NULL REFERENCES ab_tests(id),
    variation_id        text NOT NULL REFERENCES optimization_variations(id),
    is_control          boolean NOT NULL,
    n                   integer NOT NULL,
    n_failed            integer NOT NULL,
    mean                double precision,
    ci_low              double precision,
    ci_high             double precision,
    test                text,
    p_value             double precision,
    p_adjusted          double precision,
    p_always_valid      double precision,
    lift                double precision,
    lift_ci_low         double precision,
    lift_ci_high        double precision,
    p_best              double precision,
    expected_loss       double precision,
    cost_usd            double precision NOT NULL DEFAULT 0,
    seq                 integer NOT NULL,
    PRIMARY KEY (test_id, variation_id)
);

CREATE TABLE IF NOT EXISTS analyses (
    experiment_id       text NOT NULL,
    round               integer NOT NULL,
    seq                 integer NOT NULL,
    final               boolean NOT NULL,
    payload             jsonb NOT NULL,
    created_at          timestamptz NOT NULL,
    PRIMARY KEY (experiment_id, round, seq)
);

CREATE TABLE IF NOT EXISTS patterns (
    id                  text PRIMARY KEY,
    name                text NOT NULL,
    type                text NOT NULL,
    description         text NOT NULL,
    template            text NOT NULL,
    use_cases           text[] NOT NULL DEFAULT '{}',
    goals               text[] NOT NULL DEFAULT '{}',
    created_at          timestamptz NOT NULL DEFAULT now()
);

-- One row per (final analysis, variation, pattern, model): replays insert nothing new.
CREATE TABLE IF NOT EXISTS pattern_outcomes (
    experiment_id       text NOT NULL,
    round               integer NOT NULL,
    variation_id        text NOT NULL,
    pattern_id          text NOT NULL,
    domain              text NOT NULL,
    model               text NOT NULL,
    success             boolean NOT NULL,
    PRIMARY KEY (experiment_id, round, variation_id, pattern_id, model)
);

-- Beta(1 + successes, 1 + failures) posterior of success per pattern x domain x model.
CREATE OR REPLACE VIEW pattern_statistics AS
SELECT pattern_id, domain, model,
       count(*)                                   AS trials,
       count(*) FILTER (WHERE success)            AS successes,
       1 + count(*) FILTER (WHERE success)        AS alpha,
       1 + count(*) FILTER (WHERE NOT success)    AS beta,
       (1 + count(*) FILTER (WHERE success))::double precision / (2 + count(*)) AS mean
FROM pattern_outcomes
GROUP BY pattern_id, domain, model;
