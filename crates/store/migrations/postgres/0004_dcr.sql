-- Any client can be waiting for approval or blocked ('active' | 'pending' | 'denied'; DCR with
-- dcr.approval = "required" starts pending), and a secret can expire (NULL: never).
ALTER TABLE clients ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
ALTER TABLE clients ADD COLUMN secret_expires_at BIGINT;

-- Dynamic Client Registration (issue 5, RFC 7591/7592). A registered client is a row of
-- `clients` with source 'dcr' (so authorization and token endpoints treat it like any client);
-- this table holds what only registration needs.
CREATE TABLE dcr_registrations (
    client_id               TEXT PRIMARY KEY REFERENCES clients(client_id) ON DELETE CASCADE,
    registration_token_hash TEXT NOT NULL UNIQUE,   -- SHA-256 hex of the RFC 7592 access token
    metadata                TEXT NOT NULL,          -- the effective metadata echoed on read (JSON)
    dedupe_key              TEXT,                   -- public clients: hash of metadata and source
    registered_ip           TEXT,
    created_at              BIGINT NOT NULL
);
CREATE INDEX dcr_registrations_dedupe_key ON dcr_registrations(dedupe_key);

-- Initial access tokens for `dcr.require_initial_access_token` (postern dcr tokens ...).
CREATE TABLE dcr_initial_access_tokens (
    id         TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    label      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,           -- NULL: never
    uses_left  BIGINT,           -- NULL: unlimited
    revoked_at BIGINT
);
