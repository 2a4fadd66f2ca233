-- Issue 3, second part.
-- Pre-registered clients may authenticate with private_key_jwt: their public keys, inline (JSON)
-- or by URL, never both (checked by the configuration).
ALTER TABLE clients ADD COLUMN jwks TEXT;
ALTER TABLE clients ADD COLUMN jwks_uri TEXT;

-- The last validated document of each CIMD client, as the client record the token, revocation
-- and introspection endpoints use (they never fetch), and the fingerprint of its
-- security-relevant members (redirect URIs, auth method, keys): a change asks users again.
ALTER TABLE cimd_clients ADD COLUMN snapshot TEXT;
ALTER TABLE cimd_clients ADD COLUMN fingerprint TEXT;

-- R097: consent to a CIMD client is bound to the redirect URI it was given for (one CIMD
-- client_id is shared by every installation) and to the fingerprint of the document the user
-- saw. Pre-registered clients keep '' in both. SQLite cannot change a primary key in place.
CREATE TABLE consents_v3 (
    user_id            TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id          TEXT NOT NULL,
    redirect_uri       TEXT NOT NULL DEFAULT '',
    resource           TEXT NOT NULL,
    scope              TEXT NOT NULL,
    client_fingerprint TEXT NOT NULL DEFAULT '',
    granted_at         INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id, redirect_uri, resource)
);
INSERT INTO consents_v3 (user_id, client_id, resource, scope, granted_at)
    SELECT user_id, client_id, resource, scope, granted_at FROM consents;
DROP TABLE consents;
ALTER TABLE consents_v3 RENAME TO consents;
