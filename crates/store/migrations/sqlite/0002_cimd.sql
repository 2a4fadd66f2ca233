-- Client ID Metadata Document clients (issue 3): the inventory of every CIMD client seen, the
-- client metadata pinned to each authorization code, and private_key_jwt replay protection.
CREATE TABLE cimd_clients (
    client_id     TEXT PRIMARY KEY,
    host          TEXT NOT NULL,
    status        TEXT NOT NULL,   -- 'allowed' | 'pending' | 'approved' | 'denied'
    client_name   TEXT,            -- from the last valid document
    document_hash TEXT,            -- SHA-256 hex of the last valid document
    first_seen    INTEGER NOT NULL,
    last_seen     INTEGER NOT NULL,
    last_changed  INTEGER,         -- when document_hash last changed
    decided_by    TEXT,            -- who approved or denied
    decided_at    INTEGER
);
CREATE INDEX cimd_clients_status ON cimd_clients(status);

-- JSON of the client as validated at /authorize; the token endpoint never refetches (DESIGN §4).
ALTER TABLE authorization_codes ADD COLUMN client_snapshot TEXT;

CREATE TABLE client_assertion_jtis (
    client_id  TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX client_assertion_jtis_expires_at ON client_assertion_jtis(expires_at);
