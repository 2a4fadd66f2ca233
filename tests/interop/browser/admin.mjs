// Postern interop: the admin console in a real browser (Debian's Chromium, driven by
// playwright-core, pinned in ../package.json), against a Postern whose domain policy makes a new
// metadata-document (CIMD) client wait for an administrator (`[cimd] unknown_domains =
// "approval"`; run.py starts that server for this program alone).
//
// The story of issue 6: a user tries a CIMD client and is told it waits for approval; an
// administrator signs in at /admin/sign-in, approves it in the approvals queue; the user completes
// the authorization (sign-in and consent pages, in the browser) and the client gets tokens; the
// administrator blocks the client through the confirmation page, its refresh token stops working,
// and the audit page shows the trail. Every page visited is saved as a screenshot in
// $SCREENSHOT_DIR. Nothing here runs script in Postern's pages (they have none): Playwright
// clicks, types and presses keys as a person would.
//
// Environment: POSTERN_ISSUER, CIMD_CLIENT_ID, ADMIN_USERNAME, ADMIN_PASSWORD, DEMO_USERNAME,
// DEMO_PASSWORD, SCREENSHOT_DIR, CHROMIUM (default /usr/bin/chromium).
// Output: one line per check, "ok - ..." or "not ok - ... # why". Exit status 0 only if every
// check passed.

import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const TIMEOUT_MS = 20_000;
// A laptop screen.
const VIEWPORT = { width: 1366, height: 768 };
// As the machine's own probe runs Chromium: without the networking flags it tries to reach
// Google's services at every start, which this machine's closed network refuses.
const CHROMIUM_ARGS = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const REDIRECT_URI = 'http://127.0.0.1/callback';

let failures = 0;

function check(passed, description, detail) {
    if (passed) {
        console.log(`ok - ${description}`);
    } else {
        failures += 1;
        const why = detail === undefined ? '' : ` # ${String(detail).replace(/\s+/g, ' ').slice(0, 400)}`;
        console.log(`not ok - ${description}${why}`);
    }
    return passed;
}

function env(name, fallback) {
    const value = process.env[name] ?? fallback;
    if (!value) {
        throw new Error(`environment variable ${name} is not set (see tests/interop/README.md)`);
    }
    return value;
}

const issuer = env('POSTERN_ISSUER');
const clientId = env('CIMD_CLIENT_ID');
const screenshots = env('SCREENSHOT_DIR');
mkdirSync(screenshots, { recursive: true });

let shot = 0;
/** Saves the whole page as NN-name.png. */
async function screenshot(page, name) {
    shot += 1;
    const file = join(screenshots, `${String(shot).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    console.log(`# screenshot ${file}`);
}

/** Collects what a page reports as broken: script errors, CSP violations (console errors), and
 * sub-resources (the stylesheet, logos) that failed. Pages answered with an error status on
 * purpose (the approval notice, the refusal of a non-administrator) are checked where they
 * happen; Chromium also logs those, so "Failed to load resource" lines are judged here by the
 * response instead. */
function watch(page, problems) {
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
        if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
            problems.push(`console: ${message.text()}`);
        }
    });
    page.on('response', (response) => {
        const request = response.request();
        // Chromium asks every origin for /favicon.ico; Postern has none.
        if (request.resourceType() !== 'document' && response.status() >= 400 && !request.url().endsWith('/favicon.ico')) {
            problems.push(`${response.status()} for ${request.url()}`);
        }
    });
    page.on('requestfailed', (request) => {
        if (request.resourceType() !== 'document') {
            problems.push(`failed: ${request.url()} ${request.failure()?.errorText}`);
        }
    });
}

/** Follows a link of the console's navigation bar. */
async function nav(page, label) {
    await page.getByRole('navigation', { name: 'Admin console' }).getByRole('link', { name: label, exact: true }).click();
}

/** An authorization request for the CIMD client, with its PKCE verifier. */
function authorizationRequest() {
    const verifier = randomBytes(32).toString('base64url');
    const state = randomBytes(12).toString('base64url');
    const url = new URL(`${issuer}/authorize`);
    url.search = new URLSearchParams({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: REDIRECT_URI,
        state,
        scope: 'mcp:read',
        resource: `${issuer}/demo/mcp`,
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
    }).toString();
    return { url: url.toString(), verifier, state };
}

async function tokenRequest(form) {
    const response = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form),
    });
    return { status: response.status, body: await response.json().catch(() => ({})) };
}

async function main() {
    const browser = await chromium.launch({
        executablePath: env('CHROMIUM', '/usr/bin/chromium'),
        args: CHROMIUM_ARGS,
        headless: true,
    });
    try {
        // Two people, two isolated browser profiles (cookies are not shared).
        const userContext = await browser.newContext({ viewport: VIEWPORT });
        const adminContext = await browser.newContext({ viewport: VIEWPORT });
        userContext.setDefaultTimeout(TIMEOUT_MS);
        adminContext.setDefaultTimeout(TIMEOUT_MS);
        const problems = [];
        const user = await userContext.newPage();
        const admin = await adminContext.newPage();
        watch(user, problems);
        watch(admin, problems);
        await story(user, admin, userContext);
        check(problems.length === 0, 'no page reported a script error, a refused resource or a CSP violation',
            problems.join(' | '));
    } finally {
        await browser.close();
    }
}

async function story(user, admin, userContext) {
    // 1. The user tries the new client: signing in is possible, using the client is not yet.
    const first = authorizationRequest();
    await user.goto(first.url);
    await screenshot(user, 'user-sign-in');
    await user.getByLabel('Username').fill(env('DEMO_USERNAME'));
    await user.getByLabel('Password').fill(env('DEMO_PASSWORD'));
    await user.getByRole('button', { name: 'Sign in' }).click();
    const waiting = await user.locator('h1').textContent();
    check(waiting.includes('Waiting for administrator approval'), 'a new CIMD client waits for an administrator', waiting);
    await screenshot(user, 'user-client-awaits-approval');

    // The user is signed in, but not as an administrator: the console says so.
    const refused = await user.goto(`${issuer}/admin`);
    const refusal = await user.locator('[role=alert]').textContent();
    check(refused.status() === 403 && refusal.includes('not an administrator'),
        'a signed-in user who is not an administrator is refused with a clear message', `${refused.status()} ${refusal}`);
    await screenshot(user, 'console-refuses-non-administrator');

    // 2. The administrator signs in at /admin/sign-in (redirected there from /admin).
    await admin.goto(`${issuer}/admin`);
    check(new URL(admin.url()).pathname === '/admin/sign-in', 'an anonymous visit is sent to /admin/sign-in', admin.url());
    await screenshot(admin, 'admin-sign-in');
    // A mistyped password first: the same check (and audit event) as every sign-in form.
    await admin.getByLabel('Username').fill(env('ADMIN_USERNAME'));
    await admin.getByLabel('Password').fill('not the password');
    await admin.getByRole('button', { name: 'Sign in' }).click();
    const mistyped = await admin.locator('[role=alert]').textContent();
    check(mistyped.includes('Incorrect username or password.'), 'a wrong password is refused', mistyped);
    await admin.getByLabel('Username').fill(env('ADMIN_USERNAME'));
    await admin.getByLabel('Password').fill(env('ADMIN_PASSWORD'));
    await admin.getByRole('button', { name: 'Sign in' }).click();
    await admin.waitForURL(`${issuer}/admin`);
    const waitingCount = await admin.locator('.stats li').first().textContent();
    check(/1\s+waiting for approval/.test(waitingCount), 'the overview counts the pending client', waitingCount);
    const failures = await admin.locator('table.audit').textContent();
    check(failures.includes('login_failed'), 'the overview lists the failed sign-in among recent failures', failures);
    await screenshot(admin, 'overview');

    // Keyboard: the first Tab reaches the skip link, which leads to the page's content.
    await admin.keyboard.press('Tab');
    const skip = await admin.locator(':focus').textContent();
    check(skip.trim() === 'Skip to content', 'the first Tab stop is the skip link', skip);

    // 3. The approvals queue: approve, with the keyboard.
    await nav(admin, 'Approvals');
    const row = admin.locator('tbody tr', { hasText: clientId });
    check(await row.count() === 1, 'the approvals queue lists the client', await admin.locator('main').textContent());
    await screenshot(admin, 'approvals-queue');
    await row.getByRole('button', { name: /^Approve/ }).focus();
    await admin.keyboard.press('Enter');
    await admin.waitForURL(/\/admin\/approvals\?done=approved/);
    const approved = await admin.locator('.notice').textContent();
    check(approved.includes('Client approved'), 'approving from the queue says so', approved);
    await screenshot(admin, 'approvals-after-approve');

    // 4. The user completes the authorization in the browser: consent, then the redirect to the
    // client (intercepted: nothing listens on 127.0.0.1:80), then the code for tokens.
    let callback = null;
    await userContext.route(`${REDIRECT_URI}**`, async (route) => {
        callback = new URL(route.request().url());
        await route.fulfill({ status: 200, contentType: 'text/plain', body: 'the client received the code' });
    });
    const second = authorizationRequest();
    await user.goto(second.url);
    const consentHeading = await user.locator('h1').textContent();
    check(consentHeading.includes('Authorize access'), 'the approved client reaches the consent page', consentHeading);
    await screenshot(user, 'user-consent');
    await user.getByRole('button', { name: 'Approve' }).click();
    await user.waitForURL(`${REDIRECT_URI}**`);
    check(callback?.searchParams.get('state') === second.state && callback?.searchParams.get('iss') === issuer,
        'the redirect carries the state and iss', callback?.toString());
    const tokens = await tokenRequest({
        grant_type: 'authorization_code', code: callback?.searchParams.get('code') ?? '', code_verifier: second.verifier,
        client_id: clientId, redirect_uri: REDIRECT_URI, resource: `${issuer}/demo/mcp`,
    });
    check(tokens.status === 200 && tokens.body.access_token && tokens.body.refresh_token,
        'the user completed authorization: the client got an access and a refresh token', JSON.stringify(tokens));

    // 5. The administrator finds the client and blocks it through the confirmation page.
    await nav(admin, 'Clients');
    await screenshot(admin, 'clients');
    await admin.locator('tbody tr', { hasText: clientId }).getByRole('link').first().click();
    const grants = await admin.locator('#grants-heading').textContent();
    check(grants.includes('Live grants (1)'), "the client's page lists its grant", grants);
    await screenshot(admin, 'client-detail');
    await admin.getByRole('link', { name: 'Block…' }).click();
    const question = await admin.locator('h1').textContent();
    check(question.includes('Block client') && question.includes('This revokes 1 grant.'),
        'blocking asks first, naming the grants it revokes', question);
    await screenshot(admin, 'confirm-block');
    await admin.getByRole('button', { name: 'Block client' }).click();
    const blocked = await admin.locator('.notice').textContent();
    check(blocked.includes('Client blocked. 1 grant was revoked.'), 'the block is confirmed on the client page', blocked);
    await screenshot(admin, 'client-blocked');
    const refreshed = await tokenRequest({
        grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token ?? '', client_id: clientId,
    });
    check(refreshed.status !== 200, 'the blocked client can no longer refresh', JSON.stringify(refreshed));

    // 6. The audit trail of the client.
    await nav(admin, 'Audit log');
    await admin.getByLabel('Client ID').fill(clientId);
    await admin.getByRole('button', { name: 'Filter' }).click();
    const kinds = await admin.locator('table.audit tbody td:nth-child(2) code').allTextContents();
    for (const kind of ['admin_client_approved', 'consent_granted', 'code_issued', 'admin_client_blocked']) {
        check(kinds.includes(kind), `the audit page shows ${kind} for the client`, kinds.join(','));
    }
    await screenshot(admin, 'audit-trail');
    await admin.getByLabel('Outcome').selectOption('failure');
    await admin.getByLabel('Client ID').fill('');
    await admin.getByRole('button', { name: 'Filter' }).click();
    const failed = await admin.locator('table.audit tbody td:nth-child(2) code').allTextContents();
    check(failed.length > 0 && failed.every((kind) => kind === 'login_failed'),
        'the outcome filter shows only failures', failed.join(','));
    await screenshot(admin, 'audit-failures');

    // Domain policy: a runtime allow rule is added at once; removing it is confirmed first.
    await nav(admin, 'Domain policy');
    const policy = await admin.locator('main').textContent();
    check(policy.includes('approval') && policy.includes('source: config'),
        'the domain policy page shows unknown_domains from the configuration file', policy.slice(0, 300));
    await admin.getByLabel('Host or *.suffix').fill('*.trusted.example');
    await admin.getByLabel('List', { exact: true }).selectOption('allow');
    await admin.getByRole('button', { name: 'Add rule' }).click();
    const added = await admin.locator('.notice').textContent();
    const rule = admin.locator('tbody tr', { hasText: '*.trusted.example' });
    check(added.includes('Rule added.') && (await rule.textContent()).includes('runtime'),
        'a runtime allow rule is added and marked as runtime', added);
    await screenshot(admin, 'domain-policy');
    await rule.getByRole('link', { name: /^Remove/ }).click();
    const removal = await admin.locator('h1').textContent();
    check(removal.includes('Remove the allow rule for *.trusted.example?'), 'removing a rule asks first', removal);
    await screenshot(admin, 'confirm-remove-rule');
    await admin.getByRole('button', { name: 'Remove rule' }).click();
    const removed = await admin.locator('.notice').textContent();
    check(removed.includes('Rule removed.'), 'the rule is removed after confirmation', removed);

    // The other pages, for the record.
    await nav(admin, 'Users');
    check(await admin.locator('tbody tr').count() === 2, 'the users page lists both accounts');
    await screenshot(admin, 'users');
    await nav(admin, 'Overview');
    await screenshot(admin, 'overview-after');
}

try {
    await main();
} catch (error) {
    check(false, 'the browser story ran to its end', error.stack ?? error);
}
process.exit(failures === 0 ? 0 : 1);
