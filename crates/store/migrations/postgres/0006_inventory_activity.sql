-- Client inventory (issue 6): a client's last activity is its latest grant or refresh token,
-- read per client by the admin inventory (and by the DCR reaper). Without this index each
-- lookup scans every refresh token ever issued; rotated tokens are kept, so that table only
-- grows. The consenting users of one client are read by client_id too.
CREATE INDEX refresh_tokens_client_issued ON refresh_tokens(client_id, issued_at);
CREATE INDEX consents_client_id ON consents(client_id);
