-- Governance (issue 6): admin API tokens, disabled users, runtime domain policy, document
-- history, indexes for the inventory and audit queries, and audit retention.

-- Admin API tokens (postern admin-tokens create). Only the SHA-256 hex of a token is kept.
CREATE TABLE admin_tokens (
    id           TEXT PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,
    label        TEXT NOT NULL,
    access       TEXT NOT NULL,     -- 'read' | 'write'
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,            -- NULL: never
    last_used_at BIGINT,
    revoked_at   BIGINT
);

-- A disabled user cannot sign in; their sessions and grants are revoked when disabled.
ALTER TABLE users ADD COLUMN disabled_at BIGINT;

-- CIMD domain lists edited at runtime (merged with [cimd] of the configuration file).
CREATE TABLE domain_rules (
    pattern    TEXT PRIMARY KEY,    -- 'host' or '*.suffix', as in [cimd]
    list       TEXT NOT NULL,       -- 'allow' | 'deny'
    created_at BIGINT NOT NULL,
    created_by TEXT                 -- admin user id or 'token:<id>'
);

-- Settings changed at runtime that override the file (e.g. cimd.unknown_domains).
CREATE TABLE runtime_settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT
);

-- Every distinct document a CIMD client served, for the inventory's change history.
CREATE TABLE cimd_document_history (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id     TEXT NOT NULL,
    fetched_at    BIGINT NOT NULL,
    document_hash TEXT NOT NULL,
    fingerprint   TEXT,
    snapshot      TEXT             -- the client as validated (JSON), as in cimd_clients.snapshot
);
CREATE INDEX cimd_document_history_client ON cimd_document_history(client_id, id);

CREATE INDEX grants_user_id ON grants(user_id);
CREATE INDEX audit_events_kind ON audit_events(kind, id);
CREATE INDEX audit_events_client_id ON audit_events(client_id, id);
CREATE INDEX audit_events_user_id ON audit_events(user_id, id);

-- Retention: events may be deleted once they are 30 days old (the shortest retention an
-- operator can configure), never sooner, and never changed or truncated. The floor uses the
-- database's own clock so no caller can argue it away.
DROP TRIGGER audit_events_append_only ON audit_events;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
FOR EACH ROW EXECUTE FUNCTION postern_audit_append_only();
CREATE FUNCTION postern_audit_retention_floor() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.occurred_at > EXTRACT(EPOCH FROM now())::BIGINT - 2592000 THEN
        RAISE EXCEPTION 'audit_events younger than 30 days cannot be deleted';
    END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER audit_events_retention_floor BEFORE DELETE ON audit_events
FOR EACH ROW EXECUTE FUNCTION postern_audit_retention_floor();
