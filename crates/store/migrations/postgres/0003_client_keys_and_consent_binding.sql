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
-- saw. Pre-registered clients keep '' in both.
ALTER TABLE consents ADD COLUMN redirect_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE consents ADD COLUMN client_fingerprint TEXT NOT NULL DEFAULT '';
ALTER TABLE consents DROP CONSTRAINT consents_pkey;
ALTER TABLE consents ADD PRIMARY KEY (user_id, client_id, redirect_uri, resource);
