#!/usr/bin/env python3
"""Run the pinned MCP conformance suite's `authorization` command against Postern.

    python3 tests/interop/conformance/run.py        (or ./run.sh)

What the command is (@modelcontextprotocol/conformance 0.2.0-alpha.12, `conformance authorization`):
it tests an OAuth authorization server, not an MCP server. It never connects to MCP_URL; `--resource`
only puts that URI in the `resource` parameter (RFC 8707) of the authorization and token requests.
It runs two scenarios in order, the second using the metadata the first fetched:

- `authorization-server-metadata-endpoint`: GET `/.well-known/oauth-authorization-server` (then the
  two OIDC forms) under the issuer; check `authorization-server-metadata` wants 200,
  `application/json`, `issuer` equal to `--url` byte for byte, `authorization_endpoint`,
  `token_endpoint`, `response_types_supported` with `code`, `code_challenge_methods_supported` with
  `S256`; check `authorization-server-metadata-cimd` wants `client_id_metadata_document_supported`
  true (a WARNING otherwise).
- `authorization-code-grant`: a public client (`--client-id`, no secret, so client auth `none`)
  with PKCE S256, a random `state`, no `scope`, `redirect_uri` `http://127.0.0.1:<--port>/callback`.
  The suite starts a callback server on that port, prints the authorization URL for a human to open
  and waits (5 minutes) for the browser to arrive at /callback. Check `authorization-code-grant`:
  the redirect is to that redirect_uri, no `error`, exactly one `state` (matching) and one non-empty
  `code`, `iss` (if present) equal to the metadata issuer; then the token request (code,
  redirect_uri, code_verifier, client_id, resource) must answer 200, `application/json`,
  `Cache-Control: no-store`, with string `access_token` and `token_type`. Without `--client-id` this
  check is SKIPPED, which this script counts as a failure.

How it is driven here: this script plays the user's browser. It reads the authorization URL from the
suite's stdout, runs `python3 $LOGIN_DRIVER <url>` (Postern's real login and consent forms), checks
that Postern sent the browser to the suite's redirect_uri, and then delivers that redirect to the
suite's callback server as the browser would. Results come from the suite's own `checks.json`
(`--output-dir`). Every check must be SUCCESS: FAILURE, WARNING and SKIPPED all fail the run, as
does a missing check, a login driver error or a non-zero exit of the suite.

Environment (as `run.py` of the interop harness sets it, see ../README.md):

  POSTERN_ISSUER            issuer, passed as --url (must equal the metadata `issuer` exactly)
  MCP_URL                   the demo MCP resource, passed as --resource
  CONFORMANCE_CLIENT_ID     client for the grant; default PREREGISTERED_CLIENT_ID. It must be a public
                            client (token_endpoint_auth_method = "none") allowed the redirect URI
                            http://127.0.0.1/callback (any port) and the resource MCP_URL
  CIMD_CLIENT_ID            optional: when set, the grant is run a second time with this client_id
                            (a metadata document URL whose redirect_uris include
                            http://127.0.0.1/callback)
  LOGIN_DRIVER              default ../driver/login.py; it reads DEMO_USERNAME, DEMO_PASSWORD and
                            LOGIN_COOKIE_JAR itself
  CONFORMANCE_RESULTS_DIR   optional: keep the suite's checks.json files there (default: a temp dir)
  CONFORMANCE_TIMEOUT_SECS  optional: per run of the suite, default 120

Exit status: 0 when every check of every run passed, 1 otherwise, 2 on a setup error.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
INTEROP = os.path.dirname(HERE)
NODE = os.path.join(INTEROP, "node_modules", ".bin", "node")
SUITE_DIR = os.path.join(INTEROP, "node_modules", "@modelcontextprotocol", "conformance")
SUITE = os.path.join(SUITE_DIR, "dist", "index.js")
PINNED_PACKAGE = "@modelcontextprotocol/conformance"

# The checks the two scenarios emit; each must be present and SUCCESS.
EXPECTED_CHECKS = [
    "authorization-server-metadata",
    "authorization-server-metadata-cimd",
    "authorization-code-grant",
]
URL_PROMPT = "Access the following URL in your browser"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def setup_error(message: str) -> None:
    print(f"conformance: {message}", file=sys.stderr)
    sys.exit(2)


def check_installation() -> str:
    if not (os.access(NODE, os.X_OK) and os.path.exists(SUITE)):
        setup_error(f"{PINNED_PACKAGE} or node missing: run `npm ci` in {INTEROP}")
    with open(os.path.join(INTEROP, "package.json"), encoding="utf-8") as f:
        pinned = json.load(f)["dependencies"][PINNED_PACKAGE]
    with open(os.path.join(SUITE_DIR, "package.json"), encoding="utf-8") as f:
        installed = json.load(f)["version"]
    if installed != pinned:
        setup_error(f"{PINNED_PACKAGE} {installed} installed, {pinned} pinned: run `npm ci` in {INTEROP}")
    return installed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Run:
    """One invocation of `conformance authorization`, with this script as the browser."""

    def __init__(self, label: str, client_id: str, results_dir: str, env: dict) -> None:
        self.label = label
        self.client_id = client_id
        self.results_dir = os.path.join(results_dir, label)
        self.env = env
        self.port = free_port()
        self.redirect_uri = f"http://127.0.0.1:{self.port}/callback"
        self.harness_failures: list[tuple[str, str]] = []  # (check name, what went wrong)
        self.notes: list[str] = []

    def log(self, line: str) -> None:
        print(f"  [{self.label}] {line}", flush=True)

    def execute(self, timeout: float) -> list[dict]:
        os.makedirs(self.results_dir, exist_ok=True)
        command = [
            NODE, SUITE, "authorization",
            "--url", self.env["POSTERN_ISSUER"],
            "--client-id", self.client_id,
            "--resource", self.env["MCP_URL"],
            "--port", str(self.port),
            "--output-dir", self.results_dir,
        ]
        self.log("$ " + " ".join(command[1:]))
        proc = subprocess.Popen(
            command, cwd=self.results_dir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )
        self.deadline = time.monotonic() + timeout
        watchdog = threading.Timer(timeout, self._expire, args=(proc, timeout))
        watchdog.start()
        browsed = False
        expect_url = False
        try:
            for raw in proc.stdout:
                line = ANSI.sub("", raw.rstrip("\n"))
                self.log("| " + line)
                if expect_url and line.strip():
                    expect_url = False
                    if not browsed:
                        browsed = True
                        if not self._browse(line.strip()):
                            self._stop(proc)
                elif URL_PROMPT in line:
                    expect_url = True
            code = proc.wait()
        finally:
            watchdog.cancel()
            self._stop(proc)
        if code != 0:
            self.notes.append(f"the suite exited with status {code}")
        if not browsed:
            self.notes.append("the suite never printed an authorization URL")
        return self._checks()

    def _browse(self, auth_url: str) -> bool:
        """The user's part: sign in and approve, then land on the client's redirect_uri."""
        if not re.match(r"^https?://", auth_url):
            self.harness_failures.append(("login", f"not a URL after the prompt: {auth_url!r}"))
            return False
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(auth_url).query)
        self.log(f"authorization request parameters: {sorted(query)}")
        try:
            driver = subprocess.run(
                [sys.executable, self.env["LOGIN_DRIVER"], auth_url],
                stdin=subprocess.DEVNULL, capture_output=True, text=True, env=self.env,
                timeout=max(1.0, self.deadline - time.monotonic()),
            )
        except subprocess.TimeoutExpired:
            self.harness_failures.append(("login", "the login driver did not finish in time"))
            return False
        if driver.returncode != 0:
            self.harness_failures.append(
                ("login", f"login driver failed: {driver.stderr.strip() or driver.stdout.strip()}"))
            return False
        lines = driver.stdout.strip().splitlines()
        redirect = lines[-1].strip() if lines else ""
        if not re.match(r"^https?://", redirect):
            self.harness_failures.append(
                ("login", f"the login driver printed no redirect URL: {driver.stdout.strip()!r}"))
            return False
        self.log(f"Postern redirected the browser to {redact(redirect)}")
        parts = urllib.parse.urlsplit(redirect)
        if f"{parts.scheme}://{parts.netloc}{parts.path}" != self.redirect_uri:
            # The suite's own check would not see this (its callback server rebuilds the URL from
            # its own origin), so it is reported here; the query is still delivered so the suite
            # can judge the rest.
            self.harness_failures.append(
                ("redirect-target",
                 f"Postern redirected to {parts.scheme}://{parts.netloc}{parts.path}, "
                 f"not the requested redirect_uri {self.redirect_uri}"))
        callback = self.redirect_uri + (f"?{parts.query}" if parts.query else "")
        return self._deliver(callback)

    def _deliver(self, url: str) -> bool:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + 10
        while True:
            try:
                with opener.open(url, timeout=10) as response:
                    response.read()
                    return True
            except urllib.error.HTTPError as error:
                self.harness_failures.append(
                    ("callback", f"the suite's callback server answered {error.code}"))
                return False
            except (urllib.error.URLError, ConnectionError) as error:
                if time.monotonic() > deadline:
                    self.harness_failures.append(
                        ("callback", f"cannot reach the suite's callback server: {error}"))
                    return False
                time.sleep(0.2)

    def _expire(self, proc: subprocess.Popen, timeout: float) -> None:
        self.harness_failures.append(("timeout", f"the suite did not finish within {timeout:.0f} s"))
        self._stop(proc)

    @staticmethod
    def _stop(proc: subprocess.Popen) -> None:
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # its own session: only the suite's processes
            proc.wait(timeout=5)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _checks(self) -> list[dict]:
        checks: list[dict] = []
        for path in sorted(glob.glob(os.path.join(self.results_dir, "*", "checks.json"))):
            with open(path, encoding="utf-8") as f:
                checks.extend(json.load(f))
        order = {check: i for i, check in enumerate(EXPECTED_CHECKS)}
        return sorted(checks, key=lambda c: (order.get(c["id"], len(order)), c.get("timestamp", "")))


def redact(url: str) -> str:
    return re.sub(r"([?&]code=)[^&]+", r"\1[redacted]", url)


def main() -> int:
    version = check_installation()
    env = dict(os.environ)
    for name in ("POSTERN_ISSUER", "MCP_URL"):
        if not env.get(name):
            setup_error(f"{name} is not set")
    env.setdefault("LOGIN_DRIVER", os.path.join(INTEROP, "driver", "login.py"))
    client_id = env.get("CONFORMANCE_CLIENT_ID") or env.get("PREREGISTERED_CLIENT_ID")
    if not client_id:
        setup_error("set CONFORMANCE_CLIENT_ID or PREREGISTERED_CLIENT_ID")
    runs = [("preregistered", client_id)]
    if env.get("CIMD_CLIENT_ID"):
        runs.append(("cimd", env["CIMD_CLIENT_ID"]))
    timeout = float(env.get("CONFORMANCE_TIMEOUT_SECS", "120"))

    keep = env.get("CONFORMANCE_RESULTS_DIR")
    results_dir = os.path.abspath(keep) if keep else tempfile.mkdtemp(prefix="postern-conformance-")
    print(f"MCP conformance suite {version}: `authorization` against {env['POSTERN_ISSUER']}, "
          f"resource {env['MCP_URL']}", flush=True)

    rows: list[tuple[str, str, str, str]] = []  # (status, run, check, detail)
    suite_errors: list[str] = []
    try:
        for label, cid in runs:
            run = Run(label, cid, results_dir, env)
            checks = run.execute(timeout)
            seen = set()
            for check in checks:
                seen.add(check["id"])
                detail = check.get("errorMessage") or check.get("description", "")
                rows.append((check["status"], label, check["id"], detail))
            for missing in [c for c in EXPECTED_CHECKS if c not in seen]:
                rows.append(("MISSING", label, missing, "the suite did not report this check"))
            for name, detail in run.harness_failures:
                rows.append(("FAILURE", label, f"harness:{name}", detail))
            suite_errors.extend(f"[{label}] {note}" for note in run.notes)
    finally:
        if not keep:
            shutil.rmtree(results_dir, ignore_errors=True)

    print("\nConformance checks (client: " + ", ".join(f"{l}={c}" for l, c in runs) + ")")
    width = max(len(r[2]) for r in rows) if rows else 0
    failed = 0
    for status, label, check, detail in rows:
        ok = status == "SUCCESS"
        failed += not ok
        verdict = "PASS" if ok else "FAIL"
        shown = "" if ok else f" [{status}]"
        print(f"  {verdict}  {label:<13} {check:<{width}}  {detail}{shown}")
    for note in suite_errors:
        print(f"  note: {note}")
    passed = len(rows) - failed
    print(f"\nconformance authorization: {passed} passed, {failed} failed")
    if failed == 0 and suite_errors:
        return 1
    return 0 if failed == 0 and rows else 1


if __name__ == "__main__":
    sys.exit(main())
