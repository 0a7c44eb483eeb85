-- Tenancy: users belong to teams and have a role; every row of a team's work carries its
-- owner (team_id, user_id) so the API scopes each read by query (WHERE team_id = $n).
-- Rows whose owner is unknown (published straight to Kafka, or from before this
-- migration without a known submitter) keep team_id NULL: only an admin sees them.
-- Also: the shared rate-limit buckets and the per-user token cut-off for JWT revocation.

-- A database holding 001's data may have users without a team: they join `default`.
INSERT INTO teams (id, name)
SELECT 'team_default', 'default'
WHERE EXISTS (SELECT 1 FROM users WHERE team_id IS NULL)
ON CONFLICT DO NOTHING;
UPDATE users SET team_id = (SELECT id FROM teams WHERE name = 'default')
WHERE team_id IS NULL;
ALTER TABLE users ALTER COLUMN team_id SET NOT NULL;

ALTER TABLE users
    ADD COLUMN IF NOT EXISTS role text NOT NULL DEFAULT 'member',
    -- JWTs issued (iat) before this instant are refused: `promptopt api revoke-tokens`.
    ADD COLUMN IF NOT EXISTS tokens_valid_after timestamptz;
ALTER TABLE users DROP CONSTRAINT IF EXISTS users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('member', 'admin'));
CREATE INDEX IF NOT EXISTS users_by_team ON users (team_id);

-- Owners of the work. optimizations is the parent; its children repeat the owner so that
-- every query of them can carry the team predicate itself.
ALTER TABLE optimizations
    ADD COLUMN IF NOT EXISTS team_id text REFERENCES teams(id),
    ADD COLUMN IF NOT EXISTS user_id text REFERENCES users(id);
ALTER TABLE optimization_variations
    ADD COLUMN IF NOT EXISTS team_id text, ADD COLUMN IF NOT EXISTS user_id text;
ALTER TABLE ab_tests
    ADD COLUMN IF NOT EXISTS team_id text, ADD COLUMN IF NOT EXISTS user_id text;
ALTER TABLE test_variations
    ADD COLUMN IF NOT EXISTS team_id text, ADD COLUMN IF NOT EXISTS user_id text;
ALTER TABLE analyses
    ADD COLUMN IF NOT EXISTS team_id text, ADD COLUMN IF NOT EXISTS user_id text;
ALTER TABLE pattern_outcomes
    ADD COLUMN IF NOT EXISTS team_id text, ADD COLUMN IF NOT EXISTS user_id text;

-- 001's rows: the submitter is the owner, when it is a known user.
UPDATE optimizations o SET user_id = u.id, team_id = u.team_id
FROM users u WHERE o.submitted_by = u.id AND o.team_id IS NULL;
UPDATE optimization_variations c SET team_id = o.team_id, user_id = o.user_id
FROM optimizations o WHERE c.optimization_id = o.id AND c.team_id IS NULL;
UPDATE ab_tests c SET team_id = o.team_id, user_id = o.user_id
FROM optimizations o WHERE c.optimization_id = o.id AND c.team_id IS NULL;
UPDATE test_variations c SET team_id = t.team_id, user_id = t.user_id
FROM ab_tests t WHERE c.test_id = t.id AND c.team_id IS NULL;
UPDATE analyses c SET team_id = o.team_id, user_id = o.user_id
FROM optimizations o WHERE c.experiment_id = o.id AND c.team_id IS NULL;
UPDATE pattern_outcomes c SET team_id = o.team_id, user_id = o.user_id
FROM optimizations o WHERE c.experiment_id = o.id AND c.team_id IS NULL;

-- The scoping queries: a team's experiments newest first, and each child by team and parent.
CREATE INDEX IF NOT EXISTS optimizations_by_team ON optimizations (team_id, submitted_at DESC);
CREATE INDEX IF NOT EXISTS optimizations_by_user ON optimizations (user_id, submitted_at DESC);
CREATE INDEX IF NOT EXISTS optimization_variations_by_team
    ON optimization_variations (team_id, optimization_id, round);
CREATE INDEX IF NOT EXISTS ab_tests_by_team ON ab_tests (team_id, optimization_id, round);
CREATE INDEX IF NOT EXISTS test_variations_by_team ON test_variations (team_id, test_id);
CREATE INDEX IF NOT EXISTS analyses_by_team ON analyses (team_id, experiment_id, round);

-- One rate limit shared by every API process: a token bucket per key ('user:<id>'),
-- refilled continuously at per_minute/60 tokens a second up to per_minute, on the
-- database's clock (one clock for all processes). rate_limit_take spends one token
-- atomically (the upsert's row lock serialises concurrent requests) and returns 0 when
-- the request may go on, else the seconds until a token will be there.
CREATE TABLE IF NOT EXISTS rate_limit_buckets (
    key         text PRIMARY KEY,
    tokens      double precision NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE OR REPLACE FUNCTION rate_limit_take(p_key text, p_per_minute integer)
RETURNS double precision LANGUAGE plpgsql AS $$
DECLARE
    v_now    timestamptz := clock_timestamp();
    v_rate   double precision := p_per_minute / 60.0;
    v_tokens double precision;
BEGIN
    IF p_per_minute IS NULL OR p_per_minute <= 0 THEN
        RETURN 0;  -- unlimited
    END IF;
    INSERT INTO rate_limit_buckets AS b (key, tokens, updated_at)
    VALUES (p_key, p_per_minute, v_now)
    ON CONFLICT (key) DO UPDATE SET
        tokens = LEAST(p_per_minute::double precision,
                       b.tokens + GREATEST(0, extract(epoch FROM v_now - b.updated_at)) * v_rate),
        updated_at = GREATEST(v_now, b.updated_at)
    RETURNING tokens INTO v_tokens;
    IF v_tokens >= 1 THEN
        UPDATE rate_limit_buckets SET tokens = tokens - 1 WHERE key = p_key;
        RETURN 0;
    END IF;
    RETURN (1 - v_tokens) / v_rate;
END
$$;
