// Postern interop: the MCP TypeScript SDK (@modelcontextprotocol/sdk, pinned in ../package.json)
// as an OAuth client of `postern serve --demo`.
//
// Run once per scenario (see ../README.md for the contract):
//   SCENARIO=preregistered MCP_URL=... POSTERN_ISSUER=... ../node_modules/.bin/node client.mjs
//
// Everything OAuth is done by the SDK itself: discovery, registration, PKCE, the token requests,
// reacting to 401/403 challenges. This program only plays the parts a real application plays:
// it stores what the SDK asks it to store (OAuthClientProvider), it "opens the browser" (the
// login driver), and its redirect-URI callback hands the code back (transport.finishAuth). It
// also watches the HTTP traffic (a recording fetch) so that every check can actually fail.
//
// Output: one line per check, "ok - ..." or "not ok - ... # why"; "# ..." lines are comments.
// Exit status 0 only if every check passed.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

const SCENARIO_TIMEOUT_MS = 120_000;
const LOGIN_DRIVER_TIMEOUT_MS = 60_000;
const READ = 'mcp:read';
const WRITE = 'mcp:write';

// ---------------------------------------------------------------------------------------------
// Checks

let failures = 0;

/** Prints one TAP-like line; a failed check makes the program exit non-zero at the end. */
function check(passed, description, detail) {
    if (passed) {
        console.log(`ok - ${description}`);
    } else {
        failures += 1;
        console.log(`not ok - ${description}${detail === undefined ? '' : ` # ${oneLine(detail)}`}`);
    }
    return passed;
}

function comment(text) {
    console.log(`# ${oneLine(text)}`);
}

function oneLine(value) {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    return String(text).replace(/\s+/g, ' ').slice(0, 500);
}

function env(name) {
    const value = process.env[name];
    if (!value) {
        throw new Error(`environment variable ${name} is not set (see tests/interop/README.md)`);
    }
    return value;
}

// ---------------------------------------------------------------------------------------------
// HTTP log: a fetch wrapper handed to the transport. The SDK uses it for the MCP requests and for
// all of its OAuth requests (discovery, /register, /token), so the checks can see what really
// went over the wire instead of trusting the SDK's account of it.

function recordingFetch(log) {
    return async (input, init) => {
        const url = input instanceof Request ? input.url : String(input);
        const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
        const response = await fetch(input, init);
        log.push({
            method,
            url: new URL(url),
            status: response.status,
            wwwAuthenticate: response.headers.get('www-authenticate') ?? undefined,
            grantType: formField(init?.body, 'grant_type')
        });
        return response;
    };
}

/** A field of a form-encoded request body (the token requests), or undefined. */
function formField(body, name) {
    if (body instanceof URLSearchParams) return body.get(name) ?? undefined;
    if (typeof body === 'string' && !body.trimStart().startsWith('{')) {
        return new URLSearchParams(body).get(name) ?? undefined;
    }
    return undefined;
}

/** Requests to the MCP endpoint itself (not its metadata, not the authorization server). */
function mcpRequests(log) {
    const mcp = new URL(env('MCP_URL'));
    return log.filter(entry => entry.method === 'POST' && entry.url.origin === mcp.origin && entry.url.pathname === mcp.pathname);
}

function tokenRequests(log, grantType) {
    return log.filter(entry => entry.method === 'POST' && entry.grantType === grantType);
}

/** The value of one auth-param of a WWW-Authenticate header (quoted or not). */
function authParam(header, name) {
    const match = new RegExp(`(?:^|[\\s,])${name}=(?:"([^"]*)"|([^\\s,]+))`).exec(header ?? '');
    return match ? (match[1] ?? match[2]) : undefined;
}

// ---------------------------------------------------------------------------------------------
// The "browser": the login driver signs in and approves through Postern's real pages and prints
// the URL Postern redirected to (our redirect URI with code, state and iss).

let browserOpened = 0;

async function openBrowser(authorizationUrl) {
    browserOpened += 1;
    const { stdout } = await promisify(execFile)('python3', [env('LOGIN_DRIVER'), authorizationUrl.href], {
        timeout: LOGIN_DRIVER_TIMEOUT_MS,
        env: process.env
    });
    return new URL(stdout.trim());
}

// ---------------------------------------------------------------------------------------------
// OAuthClientProvider: in memory, like the SDK's own examples, plus what the checks need to see
// (every authorization URL and the state it carried).

class InteropProvider {
    /**
     * @param clientInformation pre-registered client information, or undefined (CIMD, DCR)
     * @param clientMetadataUrl the CIMD client_id URL, or undefined
     */
    constructor({ clientInformation, clientMetadataUrl } = {}) {
        this._clientInformation = clientInformation;
        this.clientMetadataUrl = clientMetadataUrl;
        // Any port on loopback is allowed for a native client (RFC 8252 §7.3); using a random one
        // shows that Postern does not require the registered port. Nothing needs to listen there.
        const port = 20000 + Math.floor(Math.random() * 40000);
        this._redirectUrl = `http://127.0.0.1:${port}/callback`;
        this._tokens = undefined;
        this._codeVerifier = undefined;
        this.states = [];
        this.authorizationUrls = [];
        this.browser = undefined; // the pending login of the last redirectToAuthorization
    }

    get redirectUrl() {
        return this._redirectUrl;
    }

    // Used for DCR, and by the SDK as the last fallback for the requested scope.
    get clientMetadata() {
        return {
            client_name: 'Postern interop: MCP TypeScript SDK',
            redirect_uris: [this._redirectUrl],
            grant_types: ['authorization_code', 'refresh_token'],
            response_types: ['code'],
            token_endpoint_auth_method: 'none',
            scope: READ
        };
    }

    state() {
        const state = randomBytes(16).toString('base64url');
        this.states.push(state);
        return state;
    }

    clientInformation() {
        return this._clientInformation;
    }

    saveClientInformation(clientInformation) {
        this._clientInformation = clientInformation;
    }

    tokens() {
        return this._tokens;
    }

    saveTokens(tokens) {
        this._tokens = tokens;
    }

    // A real application opens the system browser here and returns; the redirect comes back to
    // its callback later. Likewise the login runs in the background and the callback handler
    // (receiveCallback) waits for it.
    redirectToAuthorization(authorizationUrl) {
        this.authorizationUrls.push(authorizationUrl);
        this.browser = openBrowser(authorizationUrl);
        this.browser.catch(() => {}); // awaited (and reported) by receiveCallback
    }

    saveCodeVerifier(codeVerifier) {
        this._codeVerifier = codeVerifier;
    }

    codeVerifier() {
        if (!this._codeVerifier) throw new Error('no PKCE code verifier saved');
        return this._codeVerifier;
    }

    get lastAuthorizationUrl() {
        return this.authorizationUrls.at(-1);
    }
}

/** Client information of a pre-registered public client, bound to Postern as the SDK asks. */
function preregistered(clientId) {
    return { client_id: clientId, issuer: env('POSTERN_ISSUER') };
}

// ---------------------------------------------------------------------------------------------
// The redirect-URI callback and the reconnect, as in the SDK's simpleOAuthClient example.

/** What the application's callback does: validate the redirect and return the code. */
async function receiveCallback(provider) {
    if (!provider.browser) throw new Error('the SDK signalled UnauthorizedError without redirecting to authorization');
    const callback = await provider.browser;
    provider.browser = undefined;
    const params = callback.searchParams;
    const expected = new URL(provider.redirectUrl);
    check(callback.origin === expected.origin && callback.pathname === expected.pathname,
        'Postern redirected to the redirect URI', callback.href);
    check(!params.has('error'), 'the authorization response is not an error', params.get('error_description') ?? params.get('error'));
    check(params.get('state') === provider.states.at(-1), 'the authorization response carries our state',
        `got ${params.get('state')}, sent ${provider.states.at(-1)}`);
    // RFC 9207: a client that checks iss cannot be sent another server's code (mix-up).
    check(params.get('iss') === env('POSTERN_ISSUER'), 'the authorization response has iss = POSTERN_ISSUER (RFC 9207)',
        `got ${params.get('iss')}`);
    const code = params.get('code');
    if (!check(Boolean(code), 'the authorization response has a code')) {
        throw new Error(`no code in ${callback.href}`);
    }
    return code;
}

async function completeAuthorization(transport, provider) {
    const code = await receiveCallback(provider);
    await transport.finishAuth(code);
}

/**
 * Connects, going through authorization when the SDK asks for it. A transport cannot be started
 * twice, so the reconnect uses a new transport and client (as the SDK's example does).
 */
async function connect(session) {
    for (let attempt = 1; ; attempt++) {
        const transport = new StreamableHTTPClientTransport(new URL(env('MCP_URL')), {
            authProvider: session.provider,
            fetch: session.fetch
        });
        const client = new Client({ name: 'postern-interop-ts', version: '1.0.0' });
        try {
            await client.connect(transport);
            return { client, transport };
        } catch (error) {
            if (!(error instanceof UnauthorizedError) || attempt > 1) throw error;
            await completeAuthorization(transport, session.provider);
        }
    }
}

/**
 * Runs an MCP call; if the SDK had to send the user to authorize (UnauthorizedError), completes
 * that authorization and runs the call once more on the same connection.
 */
async function withAuthorization(session, connection, call) {
    try {
        return await call();
    } catch (error) {
        if (!(error instanceof UnauthorizedError)) throw error;
        comment(`the call needed a new authorization (${error.message})`);
        await completeAuthorization(connection.transport, session.provider);
        return await call();
    }
}

function newSession(provider) {
    const log = [];
    return { provider, log, fetch: recordingFetch(log) };
}

// ---------------------------------------------------------------------------------------------
// MCP calls and the checks on their results

async function whoami(client) {
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    if (result.isError) throw new Error(`whoami failed: ${JSON.stringify(result.content)}`);
    const text = result.content?.find(part => part.type === 'text')?.text;
    return JSON.parse(text);
}

function scopesOf(identity) {
    const scopes = identity?.scopes ?? identity?.scope;
    return new Set(Array.isArray(scopes) ? scopes : String(scopes ?? '').split(' ').filter(Boolean));
}

/** The claims of an RFC 9068 JWT access token (read, not verified: the server verified it). */
function accessTokenClaims(provider) {
    const payload = provider.tokens()?.access_token?.split('.')[1];
    try {
        return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
        return undefined;
    }
}

/**
 * whoami must describe the token the SDK holds: Postern's user ids are opaque (`u_...`), so the
 * sub is compared with the token's `sub` claim, not with the username "demo".
 */
function checkIdentity(identity, provider, clientId, { scopes = [READ], absent = [] } = {}) {
    const claimed = accessTokenClaims(provider)?.sub;
    check(Boolean(identity?.sub) && identity.sub === claimed, 'whoami: sub is the sub claim of the access token held',
        `whoami sub ${identity?.sub}, token sub ${claimed}`);
    check(identity?.client_id === clientId, `whoami: client_id is ${clientId}`, `got ${identity?.client_id}`);
    const granted = scopesOf(identity);
    check(scopes.every(scope => granted.has(scope)), `whoami: scopes include ${scopes.join(' ')}`, [...granted]);
    for (const scope of absent) {
        check(!granted.has(scope), `whoami: scopes do not include ${scope}`, [...granted]);
    }
}

async function checkToolList(client) {
    const { tools } = await client.listTools();
    const names = tools.map(tool => tool.name);
    check(names.includes('whoami') && names.includes('write_note'), 'tools/list shows whoami and write_note', names);
}

/** The authorization request the SDK built: our client, PKCE S256, the demo as resource. */
function checkAuthorizationUrl(url, clientId, scope) {
    const params = url?.searchParams ?? new URLSearchParams();
    check(params.get('client_id') === clientId, `authorization request: client_id is ${clientId}`, `got ${params.get('client_id')}`);
    check(params.get('code_challenge_method') === 'S256' && Boolean(params.get('code_challenge')),
        'authorization request: PKCE with S256');
    check(params.get('resource') === env('MCP_URL'), 'authorization request: resource is MCP_URL (RFC 8707)',
        `got ${params.get('resource')}`);
    check(params.get('scope') === scope, `authorization request: scope is "${scope}"`, `got ${params.get('scope')}`);
}

/** The first MCP request had no token: Postern must answer 401 pointing at its metadata. */
function checkFirstChallenge(log) {
    const first = mcpRequests(log)[0];
    check(first?.status === 401 && authParam(first.wwwAuthenticate, 'resource_metadata') !== undefined,
        'the first MCP request got 401 with resource_metadata', first && `${first.status} ${first.wwwAuthenticate}`);
}

function checkAuthorizationCodeGrant(log) {
    const grants = tokenRequests(log, 'authorization_code');
    check(grants.length > 0 && grants.every(grant => grant.status === 200),
        'the code was exchanged at the token endpoint (200)', grants.map(grant => grant.status));
}

/** A first connection: discovery, authorization, code exchange, and the tools. */
async function connectAndCheck(session, clientId) {
    const connection = await connect(session);
    check(browserOpened === 1, 'the login driver ran once', `ran ${browserOpened} times`);
    checkFirstChallenge(session.log);
    checkAuthorizationUrl(session.provider.authorizationUrls[0], clientId, READ);
    checkAuthorizationCodeGrant(session.log);
    await checkToolList(connection.client);
    return connection;
}

// ---------------------------------------------------------------------------------------------
// Scenarios

async function scenarioPreregistered() {
    const clientId = env('PREREGISTERED_CLIENT_ID');
    const session = newSession(new InteropProvider({ clientInformation: preregistered(clientId) }));
    const connection = await connectAndCheck(session, clientId);
    checkIdentity(await whoami(connection.client), session.provider, clientId);
    return connection;
}

async function scenarioCimd() {
    const clientId = env('CIMD_CLIENT_ID');
    // No client information: the SDK uses the URL as client_id when the authorization server
    // advertises client_id_metadata_document_supported.
    const session = newSession(new InteropProvider({ clientMetadataUrl: clientId }));
    const connection = await connectAndCheck(session, clientId);
    check(!session.log.some(entry => entry.method === 'POST' && entry.url.pathname.endsWith('/register')),
        'no dynamic registration was attempted');
    checkIdentity(await whoami(connection.client), session.provider, clientId);
    return connection;
}

async function scenarioStepUp() {
    // A client without refresh tokens: with one, SDK 1.32.2 answers 403 insufficient_scope with a
    // refresh grant (which cannot widen scope) and gives up instead of re-authorizing.
    const clientId = env('NO_REFRESH_CLIENT_ID');
    const session = newSession(new InteropProvider({ clientInformation: preregistered(clientId) }));
    const connection = await connectAndCheck(session, clientId);
    const before = await whoami(connection.client);
    checkIdentity(before, session.provider, clientId, { absent: [WRITE] });

    const text = `step-up note ${randomBytes(4).toString('hex')}`;
    const result = await withAuthorization(session, connection, () =>
        connection.client.callTool({ name: 'write_note', arguments: { text } }));

    const refused = mcpRequests(session.log).find(entry => entry.status === 403);
    check(refused !== undefined && authParam(refused.wwwAuthenticate, 'error') === 'insufficient_scope',
        'write_note with an mcp:read token got 403 insufficient_scope', refused?.wwwAuthenticate ?? 'no 403 seen');
    const challenged = new Set((authParam(refused?.wwwAuthenticate, 'scope') ?? '').split(' '));
    check(challenged.has(WRITE), 'the 403 challenge names mcp:write', refused?.wwwAuthenticate);
    check(browserOpened === 2, 'the client re-authorized through the login driver', `ran ${browserOpened} times`);
    const stepUpScopes = new Set((session.provider.lastAuthorizationUrl?.searchParams.get('scope') ?? '').split(' '));
    check([...challenged].every(scope => stepUpScopes.has(scope)),
        'the re-authorization asked for every challenged scope', `asked for ${[...stepUpScopes].join(' ')}`);
    check(tokenRequests(session.log, 'refresh_token').length === 0, 'no refresh grant was used');
    check(!result.isError, 'the retried write_note succeeded', result.content);
    const after = await whoami(connection.client);
    checkIdentity(after, session.provider, clientId, { scopes: [READ, WRITE] });
    check(after.sub === before.sub, 'the same user before and after the step-up', `${before.sub} then ${after.sub}`);
    return connection;
}

async function scenarioRefresh() {
    const clientId = env('PREREGISTERED_CLIENT_ID');
    const session = newSession(new InteropProvider({ clientInformation: preregistered(clientId) }));
    const connection = await connectAndCheck(session, clientId);
    const first = session.provider.tokens();
    check(Boolean(first?.refresh_token), 'the first authorization gave a refresh token');
    const firstSub = accessTokenClaims(session.provider)?.sub;

    // Make the stored access token unusable; the refresh token stays.
    const garbage = `garbage-${randomBytes(16).toString('hex')}`;
    session.provider.saveTokens({ ...first, access_token: garbage });
    const before = session.log.length;
    // Deliberately not withAuthorization: a refresh must not need the user.
    const identity = await whoami(connection.client);

    const after = session.log.slice(before);
    const rejected = mcpRequests(after)[0];
    check(rejected?.status === 401 && authParam(rejected.wwwAuthenticate, 'error') === 'invalid_token',
        'the garbage token got 401 invalid_token', rejected && `${rejected.status} ${rejected.wwwAuthenticate}`);
    const refreshes = tokenRequests(after, 'refresh_token');
    check(refreshes.length === 1 && refreshes[0].status === 200, 'the SDK used a refresh grant (200)',
        refreshes.map(grant => grant.status));
    check(tokenRequests(after, 'authorization_code').length === 0, 'no new authorization code was exchanged');
    check(browserOpened === 1, 'the login driver was not called again', `ran ${browserOpened} times`);
    const renewed = session.provider.tokens();
    check(renewed?.access_token !== garbage && renewed?.access_token !== first.access_token,
        'a new access token is stored');
    checkIdentity(identity, session.provider, clientId);
    check(identity.sub === firstSub, 'the refreshed token is for the same user', `${firstSub} then ${identity.sub}`);
    return connection;
}

async function scenarioRejected() {
    const clientId = env('PREREGISTERED_CLIENT_ID');
    const session = newSession(new InteropProvider({ clientInformation: preregistered(clientId) }));

    // 1. An expired token, no refresh token: connecting gets 401 and re-authorizes.
    session.provider.saveTokens({ access_token: env('EXPIRED_TOKEN'), token_type: 'Bearer' });
    const connection = await connect(session);
    checkInvalidTokenChallenge(session.log, 'the expired token');
    check(browserOpened === 1, 'the client re-authorized through the login driver', `ran ${browserOpened} times`);
    checkAuthorizationUrl(session.provider.lastAuthorizationUrl, clientId, READ);
    checkIdentity(await whoami(connection.client), session.provider, clientId);

    // 2. A token for another resource, no refresh token, on the open connection.
    session.provider.saveTokens({ access_token: env('WRONG_AUDIENCE_TOKEN'), token_type: 'Bearer' });
    const before = session.log.length;
    const identity = await withAuthorization(session, connection, () => whoami(connection.client));
    checkInvalidTokenChallenge(session.log.slice(before), 'the wrong-audience token');
    check(browserOpened === 2, 'the client re-authorized through the login driver again', `ran ${browserOpened} times`);
    checkIdentity(identity, session.provider, clientId);
    return connection;
}

/** A rejected token: 401, error="invalid_token", resource_metadata, and the SDK followed it. */
function checkInvalidTokenChallenge(log, what) {
    const rejected = mcpRequests(log)[0];
    const header = rejected?.wwwAuthenticate;
    check(rejected?.status === 401 && authParam(header, 'error') === 'invalid_token',
        `${what} got 401 error="invalid_token"`, rejected && `${rejected.status} ${header}`);
    const metadata = authParam(header, 'resource_metadata');
    check(metadata !== undefined, `the 401 for ${what} carries resource_metadata`, header);
    const fetched = log.find(entry => entry.method === 'GET' && metadata !== undefined && entry.url.href === new URL(metadata).href);
    check(fetched?.status === 200, `the SDK fetched that resource_metadata (200)`, fetched?.status ?? 'not fetched');
}

async function scenarioDcr() {
    // No client id at all: the SDK must register at the advertised registration_endpoint.
    const session = newSession(new InteropProvider());
    const connection = await connect(session);
    const registrations = session.log.filter(entry => entry.method === 'POST' && entry.url.pathname === '/register');
    check(registrations.length === 1 && registrations[0].status === 201, 'the SDK registered at /register (201)',
        registrations.map(entry => entry.status));
    const clientId = session.provider.clientInformation()?.client_id;
    check(Boolean(clientId), 'the registration gave a client_id', clientId);
    check(browserOpened === 1, 'the login driver ran once', `ran ${browserOpened} times`);
    checkFirstChallenge(session.log);
    checkAuthorizationUrl(session.provider.authorizationUrls[0], clientId, READ);
    checkAuthorizationCodeGrant(session.log);
    await checkToolList(connection.client);
    checkIdentity(await whoami(connection.client), session.provider, clientId);
    return connection;
}

const SCENARIOS = {
    preregistered: scenarioPreregistered,
    cimd: scenarioCimd,
    'step-up': scenarioStepUp,
    refresh: scenarioRefresh,
    rejected: scenarioRejected,
    dcr: scenarioDcr
};

// ---------------------------------------------------------------------------------------------

async function main() {
    const name = process.env.SCENARIO;
    const scenario = SCENARIOS[name];
    if (!scenario) {
        console.log(`not ok - SCENARIO is one of ${Object.keys(SCENARIOS).join(', ')} # got ${name}`);
        return 2;
    }
    comment(`MCP TypeScript SDK, scenario ${name}`);
    const timer = setTimeout(() => {
        console.log(`not ok - scenario ${name} finished within ${SCENARIO_TIMEOUT_MS / 1000} s`);
        process.exit(1);
    }, SCENARIO_TIMEOUT_MS);
    try {
        const connection = await scenario();
        await connection.client.close();
    } catch (error) {
        check(false, `scenario ${name} ran to the end`, `${error?.constructor?.name}: ${error?.message ?? error}`);
    } finally {
        clearTimeout(timer);
    }
    return failures === 0 ? 0 : 1;
}

process.exit(await main());
