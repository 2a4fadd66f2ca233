#!/usr/bin/env python3
"""Runs every interop scenario with every real client against `postern serve --demo`.

See README.md beside this file for the contract between this harness and the client programs.
Standard library only (it runs before and outside the clients' own environments).

    run.py                      every client, every scenario, then the conformance suite
    run.py --only ts,python     some clients (ts, python, rmcp, conformance, browser, schemathesis)
    run.py --scenarios cimd     some scenarios
    run.py --serve-only         set everything up, print the environment, serve until Ctrl-C
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
WORK = HERE / "work"  # main() may point it elsewhere (--serve-only)
DRIVER = HERE / "driver" / "login.py"
sys.path.insert(0, str(DRIVER.parent))
import login  # noqa: E402  (the same headless browser the clients use)

SCENARIOS = ["preregistered", "cimd", "step-up", "refresh", "dcr", "rejected"]
# A client program exits with this when the SDK cannot do a scenario at all; the table says so.
UNSUPPORTED = 77
CONFORMANCE_DOCUMENT = "conformance.json"
SCENARIO_TIMEOUT_SECS = 180
# Access tokens live 60 s here and postern-guard allows 30 s of clock skew: a token minted at
# the start is expired for the guard this long afterwards.
ACCESS_TOKEN_TTL_SECS = 60
GUARD_LEEWAY_SECS = 30


@dataclass
class Client:
    name: str
    command: list[str]
    cimd_document: str


def clients() -> list[Client]:
    node = HERE / "node_modules" / ".bin" / "node"
    python = HERE / ".venv" / "bin" / "python"
    rmcp = ROOT / "target" / "debug" / "postern-interop-rmcp"
    return [
        Client("ts", [str(node), str(HERE / "ts" / "client.mjs")], "ts.json"),
        Client("python", [str(python), str(HERE / "python" / "client.py")], "python.json"),
        Client("rmcp", [str(rmcp)], "rmcp.json"),
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sh(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=True, **kwargs)


# --- TLS fixture for CIMD documents -------------------------------------------------------------


def make_certificates() -> tuple[Path, Path, Path]:
    """A throwaway CA and a certificate for localhost, 127.0.0.1 and ::1 (openssl)."""
    ca_key, ca_pem = WORK / "ca.key", WORK / "ca.pem"
    key, csr, pem = WORK / "localhost.key", WORK / "localhost.csr", WORK / "localhost.pem"
    ext = WORK / "localhost.ext"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    sh("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(ca_key), **quiet)
    sh("openssl", "req", "-x509", "-new", "-key", str(ca_key), "-sha256", "-days", "2", "-subj",
       "/CN=Postern interop test CA", "-addext", "basicConstraints=critical,CA:TRUE",
       "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", str(ca_pem), **quiet)
    sh("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key), **quiet)
    sh("openssl", "req", "-new", "-key", str(key), "-subj", "/CN=localhost", "-out", str(csr), **quiet)
    ext.write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n"
    )
    sh("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_pem), "-CAkey", str(ca_key),
       "-CAcreateserial", "-days", "2", "-sha256", "-extfile", str(ext), "-out", str(pem), **quiet)
    return ca_pem, pem, key


class DocumentServer:
    """Serves CIMD documents over https on 127.0.0.1 and ::1 (Postern resolves `localhost` to
    both and may connect to either)."""

    def __init__(self, cert: Path, key: Path):
        self.documents: dict[str, bytes] = {}
        self.fetches: list[str] = []
        documents, fetches = self.documents, self.fetches

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                fetches.append(self.path)
                body = documents.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "max-age=60")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)

        class V6Server(ThreadingHTTPServer):
            address_family = socket.AF_INET6

        self.v4 = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.v4.server_address[1]
        servers = [self.v4]
        try:
            servers.append(V6Server(("::1", self.port), Handler))
        except OSError:
            pass  # no IPv6 loopback here: Postern then resolves localhost to 127.0.0.1 only
        for server in servers:
            server.socket = context.wrap_socket(server.socket, server_side=True)
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def url(self, name: str) -> str:
        return f"https://localhost:{self.port}/cimd/{name}"

    def publish(self, name: str, client_name: str) -> str:
        client_id = self.url(name)
        self.documents[f"/cimd/{name}"] = json.dumps({
            "client_id": client_id,
            "client_name": client_name,
            "client_uri": f"https://localhost:{self.port}/",
            "redirect_uris": ["http://127.0.0.1/callback", "http://localhost/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        }).encode()
        return client_id


# --- Postern ------------------------------------------------------------------------------------


def postern_config(port: int, ca_pem: Path, database: Path | None = None, unknown_domains: str = "allow") -> str:
    issuer = f"http://127.0.0.1:{port}"
    return f"""
issuer = "{issuer}"
listen = "127.0.0.1:{port}"
database = "sqlite://{database or WORK / 'postern.db'}"

[tokens]
access_token_ttl_secs = {ACCESS_TOKEN_TTL_SECS}

[[resources]]
uri = "{issuer}/demo/mcp"
name = "Postern demo MCP server"
scopes = ["mcp:read", "mcp:write"]
default_scopes = ["mcp:read"]

[[resources]]
uri = "{issuer}/other/mcp"
name = "Another MCP server (wrong-audience tokens)"
scopes = ["mcp:read"]

[[clients]]
client_id = "interop-public"
client_name = "Interop public client"
redirect_uris = ["http://127.0.0.1/callback", "http://localhost/callback"]

[[clients]]
client_id = "interop-no-refresh"
client_name = "Interop client without refresh tokens"
redirect_uris = ["http://127.0.0.1/callback", "http://localhost/callback"]
grant_types = ["authorization_code"]

[cimd]
enabled = true
unknown_domains = "{unknown_domains}"

[dcr]
enabled = true
registrations_per_ip_per_hour = 200

[outbound]
allow_cidrs = ["127.0.0.0/8", "::1/128"]
extra_root_certs = ["{ca_pem}"]
"""


class Postern:
    def __init__(self, port: int, config: Path, log: Path | None = None):
        self.issuer = f"http://127.0.0.1:{port}"
        self.binary = ROOT / "target" / "debug" / "postern"
        self.config = config
        self.log_path = log or WORK / "postern.log"
        self.log = open(self.log_path, "w")
        self.process: subprocess.Popen | None = None

    def add_user(self, name: str, password: str, admin: bool = False) -> None:
        sh(str(self.binary), "--config", str(self.config), "users", "add", name, "--password-stdin",
           *(["--admin"] if admin else []), input=password.encode(), stdout=subprocess.DEVNULL)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [str(self.binary), "--config", str(self.config), "serve", "--demo"],
            stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, "POSTERN_LOG_FORMAT": "json"},
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"postern exited at start; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.issuer}/readyz", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("postern did not become ready within 30 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def admin_token(self, label: str) -> str:
        """A write admin token made with the CLI, as an operator would."""
        created = subprocess.run(
            [str(self.binary), "--config", str(self.config), "admin-tokens", "create", "--label", label,
             "--access", "write"], check=True, capture_output=True, text=True)
        return created.stdout.strip().split("\t")[1]

    def mint_token(self, resource: str, scope: str) -> str:
        """An access token through the real flow: authorize (login driver), then /token."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        state = secrets.token_urlsafe(16)
        redirect_uri = "http://127.0.0.1:9/callback"
        query = urllib.parse.urlencode({
            "response_type": "code", "client_id": "interop-public", "redirect_uri": redirect_uri,
            "state": state, "scope": scope, "resource": resource,
            "code_challenge": challenge, "code_challenge_method": "S256",
        })
        callback = urllib.parse.urlsplit(login.authorize(f"{self.issuer}/authorize?{query}"))
        params = dict(urllib.parse.parse_qsl(callback.query))
        if params.get("state") != state or "code" not in params:
            raise SystemExit(f"minting a token failed: {params}")
        body = urllib.parse.urlencode({
            "grant_type": "authorization_code", "client_id": "interop-public", "code": params["code"],
            "code_verifier": verifier, "redirect_uri": redirect_uri, "resource": resource,
        }).encode()
        with urllib.request.urlopen(f"{self.issuer}/token", data=body, timeout=10) as response:
            return json.load(response)["access_token"]


# --- Running scenarios --------------------------------------------------------------------------


@dataclass
class Outcome:
    client: str
    scenario: str
    status: str  # pass | FAIL | unsupported
    detail: str


def run_scenario(client: Client, scenario: str, env: dict[str, str], documents: DocumentServer) -> Outcome:
    jar = WORK / f"cookies-{client.name}-{scenario}.txt"
    jar.unlink(missing_ok=True)
    scenario_env = {
        **env,
        "SCENARIO": scenario,
        "CIMD_CLIENT_ID": documents.url(client.cimd_document),
        "LOGIN_COOKIE_JAR": str(jar),
    }
    log_path = WORK / "logs" / f"{client.name}-{scenario}.log"
    try:
        result = subprocess.run(client.command, env=scenario_env, capture_output=True, text=True,
                                timeout=SCENARIO_TIMEOUT_SECS, cwd=HERE)
        output, code = result.stdout + result.stderr, result.returncode
    except subprocess.TimeoutExpired as timeout:
        output = f"{timeout.stdout or ''}{timeout.stderr or ''}\ntimed out after {SCENARIO_TIMEOUT_SECS} s"
        code = -1
    log_path.write_text(output if isinstance(output, str) else output.decode("utf-8", "replace"))
    return outcome_of(client.name, scenario, str(output), code, log_path)


def outcome_of(client: str, scenario: str, output: str, code: int, log_path: Path) -> Outcome:
    """Reads a client program's TAP-like output and exit status."""
    lines = [line for line in output.splitlines() if line.strip()]
    if code == 0:
        passed = sum(line.startswith("ok") for line in lines)
        # TAP TODO: a check that failed only because of a known limitation of the client SDK.
        todo = [line.split("# TODO", 1)[1].strip() for line in lines if line.startswith("not ok") and "# TODO" in line]
        detail = f"{passed} checks" + "".join(f"; known client limitation: {why}" for why in dict.fromkeys(todo))
        return Outcome(client, scenario, "pass", detail)
    if code == UNSUPPORTED:
        return Outcome(client, scenario, "unsupported", lines[-1] if lines else "")
    failed = [l for l in lines if l.startswith("not ok")] or lines[-3:]
    return Outcome(client, scenario, "FAIL", " | ".join(failed)[:300] + f" (log: {log_path})")


def print_table(outcomes: list[Outcome]) -> None:
    print("\n| client | scenario | result | detail |\n|---|---|---|---|")
    for o in outcomes:
        print(f"| {o.client} | {o.scenario} | {o.status} | {o.detail} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="comma-separated clients (ts,python,rmcp,conformance,browser,schemathesis)")
    parser.add_argument("--scenarios", help="comma-separated scenarios")
    parser.add_argument("--serve-only", action="store_true")
    args = parser.parse_args()

    global WORK
    if args.serve_only:
        # Several people may each keep a server running while they work on their client.
        WORK = Path(tempfile.mkdtemp(prefix="postern-interop-"))
    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "logs").mkdir(parents=True)
    ca_pem, cert, key = make_certificates()
    documents = DocumentServer(cert, key)
    for client in clients():
        documents.publish(client.cimd_document, f"Interop {client.name} client")
    documents.publish(CONFORMANCE_DOCUMENT, "MCP conformance suite")

    port = free_port()
    config = WORK / "postern.toml"
    config.write_text(postern_config(port, ca_pem))
    postern = Postern(port, config)
    password = secrets.token_urlsafe(18)
    postern.add_user("demo", password)
    os.environ.update({"DEMO_USERNAME": "demo", "DEMO_PASSWORD": password,
                       "LOGIN_COOKIE_JAR": str(WORK / "cookies-harness.txt")})
    postern.start()
    try:
        return run(args, postern, documents, password)
    finally:
        postern.stop()


def run(args, postern: Postern, documents: DocumentServer, password: str) -> int:
    mcp_url = f"{postern.issuer}/demo/mcp"
    expired_minted_at = time.monotonic()
    expired = postern.mint_token(mcp_url, "mcp:read")
    env = {
        **os.environ,
        "POSTERN_ISSUER": postern.issuer,
        "MCP_URL": mcp_url,
        "PREREGISTERED_CLIENT_ID": "interop-public",
        "NO_REFRESH_CLIENT_ID": "interop-no-refresh",
        "WRONG_AUDIENCE_TOKEN": postern.mint_token(f"{postern.issuer}/other/mcp", "mcp:read"),
        "EXPIRED_TOKEN": expired,
        "DEMO_USERNAME": "demo",
        "DEMO_PASSWORD": password,
        "LOGIN_DRIVER": str(DRIVER),
        "CIMD_BASE_URL": documents.url(""),
    }
    if args.serve_only:
        print("# Postern demo is up; the expired token expires for the guard "
              f"{ACCESS_TOKEN_TTL_SECS + GUARD_LEEWAY_SECS} s after this line.")
        for name in ["POSTERN_ISSUER", "MCP_URL", "PREREGISTERED_CLIENT_ID", "NO_REFRESH_CLIENT_ID",
                     "WRONG_AUDIENCE_TOKEN", "EXPIRED_TOKEN", "DEMO_USERNAME", "DEMO_PASSWORD",
                     "LOGIN_DRIVER", "CIMD_BASE_URL"]:
            print(f"export {name}='{env[name]}'")
        print(f"# work directory (postern.log, postern.toml): {WORK}")
        print("# CIMD_CLIENT_ID: ${CIMD_BASE_URL}{ts,python,rmcp}.json; LOGIN_COOKIE_JAR: any file path")
        sys.stdout.flush()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0

    wanted_clients = set(args.only.split(",")) if args.only else None
    wanted_scenarios = args.scenarios.split(",") if args.scenarios else SCENARIOS
    outcomes: list[Outcome] = []
    scenario_clients = [c for c in clients() if not wanted_clients or c.name in wanted_clients]
    for scenario in wanted_scenarios if scenario_clients else []:
        if scenario == "rejected":
            # The expired token must really be expired for the guard.
            wait = expired_minted_at + ACCESS_TOKEN_TTL_SECS + GUARD_LEEWAY_SECS + 2 - time.monotonic()
            if wait > 0:
                print(f"waiting {wait:.0f} s for EXPIRED_TOKEN to expire", flush=True)
                time.sleep(wait)
        for client in scenario_clients:
            outcome = run_scenario(client, scenario, env, documents)
            print(f"{outcome.client:8} {outcome.scenario:14} {outcome.status}", flush=True)
            outcomes.append(outcome)

    if not wanted_clients or "conformance" in wanted_clients:
        outcomes.append(run_conformance(env, documents))
    if not wanted_clients or "browser" in wanted_clients:
        outcome = run_browser(documents)
        print(f"{outcome.client:8} {outcome.scenario:14} {outcome.status}", flush=True)
        outcomes.append(outcome)
    # Last: it changes whatever the admin API lets a write token change.
    if not wanted_clients or "schemathesis" in wanted_clients:
        outcomes.append(run_schemathesis(postern))

    print_table(outcomes)
    failed = [o for o in outcomes if o.status == "FAIL"]
    if failed:
        print(f"\n{len(failed)} scenario(s) failed; postern's log: {WORK / 'postern.log'}")
        return 1
    return 0


def run_conformance(env: dict[str, str], documents: DocumentServer) -> Outcome:
    script = HERE / "conformance" / "run.sh"
    log_path = WORK / "logs" / "conformance.log"
    # Run.py there runs the suite twice: as the pre-registered client and as a CIMD client.
    conformance_env = {**env, "LOGIN_COOKIE_JAR": str(WORK / "cookies-conformance.txt"),
                       "CIMD_CLIENT_ID": documents.url(CONFORMANCE_DOCUMENT)}
    result = subprocess.run(["bash", str(script)], env=conformance_env, capture_output=True, text=True,
                            timeout=900, cwd=HERE)
    log_path.write_text(result.stdout + result.stderr)
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    status = "pass" if result.returncode == 0 else "FAIL"
    return Outcome("conformance", "authorization", status, (lines[-1] if lines else "") + f" (log: {log_path})")


BROWSER_DOCUMENT = "browser.json"
BROWSER_TIMEOUT_SECS = 300


def run_browser(documents: DocumentServer) -> Outcome:
    """The admin console in Debian's Chromium, driven by Playwright (browser/admin.mjs).

    It gets a Postern of its own (work/browser/: configuration, database, log) whose
    `[cimd] unknown_domains = "approval"` makes its CIMD client wait for an administrator, so
    the shared server the SDK scenarios use keeps its policy, and an administrator account made
    with `postern users add --admin` as an operator would. Screenshots of every page visited go
    to work/screenshots/."""
    work = WORK / "browser"
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = work / "postern.toml"
    config.write_text(postern_config(port, WORK / "ca.pem", database=work / "postern.db", unknown_domains="approval"))
    postern = Postern(port, config, log=work / "postern.log")
    admin_password, user_password = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    postern.add_user("admin", admin_password, admin=True)
    postern.add_user("demo", user_password)
    client_id = documents.publish(BROWSER_DOCUMENT, "Interop browser agent")
    log_path = WORK / "logs" / "browser.log"
    browser_env = {
        **os.environ,
        "POSTERN_ISSUER": postern.issuer,
        "CIMD_CLIENT_ID": client_id,
        "ADMIN_USERNAME": "admin",
        "ADMIN_PASSWORD": admin_password,
        "DEMO_USERNAME": "demo",
        "DEMO_PASSWORD": user_password,
        "SCREENSHOT_DIR": str(WORK / "screenshots"),
        "CHROMIUM": "/usr/bin/chromium",
    }
    command = [str(HERE / "node_modules" / ".bin" / "node"), str(HERE / "browser" / "admin.mjs")]
    postern.start()
    try:
        result = subprocess.run(command, env=browser_env, capture_output=True, text=True,
                                timeout=BROWSER_TIMEOUT_SECS, cwd=HERE)
        output, code = result.stdout + result.stderr, result.returncode
    except subprocess.TimeoutExpired as timeout:
        output = f"{timeout.stdout or ''}{timeout.stderr or ''}\ntimed out after {BROWSER_TIMEOUT_SECS} s"
        code = -1
    finally:
        postern.stop()
    log_path.write_text(output if isinstance(output, str) else output.decode("utf-8", "replace"))
    return outcome_of("browser", "admin console", str(output), code, log_path)


OPENAPI_DOCUMENT = ROOT / "crates" / "server" / "src" / "routes" / "admin" / "openapi.json"


def live_grant_id(postern: Postern, admin_token: str) -> str:
    """A fresh grant through the real flow, found again through the admin API."""
    postern.mint_token(f"{postern.issuer}/demo/mcp", "mcp:read")
    request = urllib.request.Request(f"{postern.issuer}/admin/api/v1/clients/interop-public",
                                     headers={"Authorization": f"Bearer {admin_token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        grants = json.load(response)["grants"]
    if not grants:
        raise RuntimeError("the admin API lists no live grant of interop-public after a token was minted")
    return grants[0]["grant_id"]


def run_schemathesis(postern: Postern) -> Outcome:
    """Fuzzes the admin API from its checked-in OpenAPI document with a write token: no request
    may make the server fail (5xx), and every answer must match the document."""
    token = postern.admin_token("schemathesis")
    # Operations on one object need an object that exists, or every request ends in a 404 before
    # the handler's logic: a live grant to revoke, and a metadata-document client_id (approving
    # or denying one not yet seen pre-decides it). schemathesis.toml binds them to the paths.
    seeded = {
        "POSTERN_FUZZ_GRANT_ID": live_grant_id(postern, token),
        "POSTERN_FUZZ_CIMD_CLIENT_ID": "https://fuzz.example/client.json",
    }
    log_path = WORK / "logs" / "schemathesis.log"
    command = [
        str(HERE / "schemathesis" / ".venv" / "bin" / "schemathesis"),
        "--config-file", str(HERE / "schemathesis" / "schemathesis.toml"), "run", str(OPENAPI_DOCUMENT),
        "--url", f"{postern.issuer}/admin/api/v1", "--header", f"Authorization: Bearer {token}",
        "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        # Requests without the token would only meet the failed-authentication throttle
        # (tested in crates/server/tests/it/admin_api.rs); every request here is authenticated.
        "--generation-with-security-parameters", "false",
        "--phases", "examples,coverage,fuzzing", "--max-examples", "50", "--seed", "1",
        "--workers", "1", "--request-timeout", "10", "--report", "junit", "--report-dir", str(WORK / "schemathesis"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=HERE,
                            env={**os.environ, **seeded, "SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"})
    log_path.write_text(result.stdout + result.stderr)
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    status = "pass" if result.returncode == 0 else "FAIL"
    return Outcome("schemathesis", "admin API", status, (lines[-1] if lines else "") + f" (log: {log_path})")


if __name__ == "__main__":
    sys.exit(main())
