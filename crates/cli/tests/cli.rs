//! The `postern` binary, run as a user would: a temporary directory, a SQLite database in it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn postern(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_postern"))
        .args(["--config", dir.join("postern.toml").to_str().unwrap()])
        .args(args)
        .current_dir(dir)
        .env_remove("POSTERN_LOG_FORMAT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A directory with a config that listens on a free port and keeps its database inside.
fn workspace(extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "issuer = \"http://127.0.0.1:8414\"\nlisten = \"127.0.0.1:0\"\ndatabase = \"sqlite://{}/data/postern.db\"\n{extra}",
        dir.path().display()
    );
    std::fs::write(dir.path().join("postern.toml"), config).unwrap();
    dir
}

#[test]
fn config_check_names_an_unknown_key() {
    let dir = workspace("[tokens]\naccess_token_lifetime = 60\n");
    let output = postern(dir.path(), &["config", "check", "postern.toml"], None);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("access_token_lifetime"), "{}", stderr(&output));
    let good = workspace("");
    let output = postern(good.path(), &["config", "check", "postern.toml"], None);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("ok"));
}

#[test]
fn config_print_default_is_a_valid_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let output = postern(dir.path(), &["config", "print-default"], None);
    assert!(output.status.success());
    std::fs::write(dir.path().join("postern.toml"), stdout(&output)).unwrap();
    let check = postern(dir.path(), &["config", "check", "postern.toml"], None);
    assert!(check.status.success(), "{}", stderr(&check));
    assert!(stdout(&output).contains("issuer = \"http://127.0.0.1:8414\""));
}

#[test]
fn users_add_reads_the_password_from_stdin_and_lists_users() {
    let dir = workspace("");
    let added =
        postern(dir.path(), &["users", "add", "bob", "--admin", "--password-stdin"], Some("a long enough password\n"));
    assert!(added.status.success(), "{}", stderr(&added));
    let short = postern(dir.path(), &["users", "add", "carol", "--password-stdin"], Some("short\n"));
    assert!(!short.status.success());
    assert!(stderr(&short).contains("12"));
    let duplicate = postern(dir.path(), &["users", "add", "bob", "--password-stdin"], Some("another long password\n"));
    assert!(!duplicate.status.success());
    assert!(stderr(&duplicate).contains("already exists"));
    let list = stdout(&postern(dir.path(), &["users", "list"], None));
    assert!(list.contains("bob") && list.contains("admin"), "{list}");
    assert!(!list.contains("carol"));
    assert!(!list.contains("a long enough password"));
}

#[test]
fn clients_add_prints_a_confidential_secret_once_and_remove_revokes() {
    let dir = workspace("");
    let added = postern(
        dir.path(),
        &["clients", "add", "svc", "--confidential", "--redirect-uri", "https://app.example.com/cb"],
        None,
    );
    assert!(added.status.success(), "{}", stderr(&added));
    let secret_line = stdout(&added).lines().find(|l| l.starts_with("client_secret: ")).unwrap().to_owned();
    let secret = secret_line.trim_start_matches("client_secret: ");
    assert!(secret.starts_with("pcs_") && secret.len() > 40);
    let list = stdout(&postern(dir.path(), &["clients", "list"], None));
    assert!(list.contains("svc\tclient_secret_basic\tcli"), "{list}");
    assert!(!list.contains(secret), "the secret must never be shown again");
    let bad = postern(dir.path(), &["clients", "add", "web", "--redirect-uri", "http://app.example.com/cb"], None);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("loopback"), "{}", stderr(&bad));
    let removed = postern(dir.path(), &["clients", "remove", "svc"], None);
    assert!(removed.status.success());
    let again = postern(dir.path(), &["clients", "remove", "svc"], None);
    assert!(!again.status.success());
}

#[test]
fn keys_rotate_makes_a_new_current_key_and_keeps_the_old_one_published() {
    let dir = workspace("");
    assert!(postern(dir.path(), &["migrate"], None).status.success());
    // `migrate` creates no key; each rotation adds one and retires the previous.
    assert!(postern(dir.path(), &["keys", "rotate"], None).status.success());
    let rotated = postern(dir.path(), &["keys", "rotate"], None);
    assert!(rotated.status.success());
    let list = stdout(&postern(dir.path(), &["keys", "list"], None));
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(lines[0].contains("current"), "{list}");
    assert!(lines[1].contains("retired, published for"), "{list}");
}

#[test]
fn serve_creates_the_admin_once_and_becomes_ready() {
    let dir = workspace("");
    for start in 0..2 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_postern"))
            .args(["--config", "postern.toml", "serve"])
            .current_dir(dir.path())
            .env("POSTERN_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Read stderr on a thread so a server that never becomes ready cannot hang the test.
        let stderr = child.stderr.take().unwrap();
        let (lines, received) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = String::new();
        let mut listen = None;
        while listen.is_none() {
            let Ok(line) = received.recv_timeout(deadline.saturating_duration_since(Instant::now())) else { break };
            if line.contains("postern is ready") {
                listen = line.split("listen=").nth(1).and_then(|s| s.split_whitespace().next()).map(str::to_owned);
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        if listen.is_none() {
            child.kill().unwrap();
        }
        let listen = listen.unwrap_or_else(|| panic!("server did not become ready: {seen}"));
        let ready = std::net::TcpStream::connect(&listen).map(|mut s| {
            s.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
            let mut answer = String::new();
            std::io::Read::read_to_string(&mut s, &mut answer).unwrap();
            answer
        });
        child.kill().unwrap();
        child.wait().unwrap();
        let ready = ready.unwrap();
        assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
        if start == 0 {
            assert!(seen.contains("Created user 'admin' with password: "), "{seen}");
        } else {
            assert!(!seen.contains("Created user 'admin'"), "the admin is created only once: {seen}");
        }
    }
}

/// A CIMD client_id and its host, for the `clients approve|deny` tests.
const CIMD_ID: &str = "https://app.example.com/oauth/client.json";
/// The configuration under which clients wait for `clients approve`.
const APPROVAL: &str = "[cimd]\nunknown_domains = \"approval\"\n";
/// 2026-11-21T00:00:00Z, when seeded clients were "seen".
const SEEN_AT: i64 = 1_795_219_200;

/// Runs `work` against the workspace's database through the store API, the way a running server
/// would have written it (the CLI cannot create a pending client). Call after `postern migrate`.
fn with_store<T>(dir: &Path, work: impl AsyncFnOnce(&postern_store::Store) -> T) -> T {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let url = format!("sqlite://{}/data/postern.db", dir.display());
        let store = postern_store::Store::connect(&url).await.unwrap();
        let result = work(&store).await;
        store.close().await;
        result
    })
}

/// A migrated workspace whose inventory holds `CIMD_ID` with `status`, seen at `SEEN_AT`.
fn workspace_with_cimd_client(status: postern_store::CimdStatus, name: Option<&str>) -> tempfile::TempDir {
    let dir = workspace(APPROVAL);
    assert!(postern(dir.path(), &["migrate"], None).status.success());
    with_store(dir.path(), async |store| {
        store.record_cimd_client_seen(CIMD_ID, "app.example.com", status, SEEN_AT).await.unwrap();
        if let Some(client_name) = name {
            let document = postern_store::ValidatedDocument {
                client_name,
                document_hash: "hash",
                fingerprint: "fingerprint",
                snapshot: "{}",
            };
            store.record_cimd_document(CIMD_ID, document, SEEN_AT).await.unwrap();
        }
    });
    dir
}

/// The status and deciding party recorded for `client_id`, and the detail of the newest audit
/// event of `kind` about it.
fn decision_and_audit(
    dir: &Path,
    client_id: &str,
    kind: &str,
) -> (Option<(postern_store::CimdStatus, Option<String>)>, Option<serde_json::Value>) {
    with_store(dir, async |store| {
        let record = store.find_cimd_client(client_id).await.unwrap().map(|c| (c.status, c.decided_by));
        let event = store
            .recent_audit_events(100)
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.kind == kind && e.client_id.as_deref() == Some(client_id));
        let detail = event.map(|e| serde_json::from_str(e.detail.as_deref().unwrap_or("null")).unwrap());
        (record, detail)
    })
}

#[test]
fn clients_list_cimd_shows_the_inventory_with_status_and_times() {
    use postern_store::CimdStatus;
    let dir = workspace_with_cimd_client(CimdStatus::Pending, Some("Example Agent"));
    with_store(dir.path(), async |store| {
        let other = "https://other.example.net/client.json";
        store.record_cimd_client_seen(other, "other.example.net", CimdStatus::Allowed, SEEN_AT + 60).await.unwrap();
        store.record_cimd_client_seen(other, "other.example.net", CimdStatus::Allowed, SEEN_AT + 3_661).await.unwrap();
    });
    let list = postern(dir.path(), &["clients", "list", "--cimd"], None);
    assert!(list.status.success(), "{}", stderr(&list));
    let list = stdout(&list);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(
        lines,
        [
            format!("{CIMD_ID}\tpending\tExample Agent\t2026-11-21T00:00:00Z\t2026-11-21T00:00:00Z"),
            "https://other.example.net/client.json\tallowed\t-\t2026-11-21T00:01:00Z\t2026-11-21T01:01:01Z".to_owned(),
        ],
        "{list}"
    );
    // The pre-registered listing keeps its columns, and points at clients awaiting a decision.
    let plain = postern(dir.path(), &["clients", "list"], None);
    assert!(plain.status.success(), "{}", stderr(&plain));
    assert!(!stdout(&plain).contains(CIMD_ID), "{}", stdout(&plain));
    assert!(stderr(&plain).contains("1 CIMD client(s) await approval"), "{}", stderr(&plain));
    assert!(stderr(&plain).contains("clients list --cimd"), "{}", stderr(&plain));
}

#[test]
fn clients_approve_lets_a_pending_cimd_client_in_and_is_audited() {
    use postern_store::CimdStatus;
    let dir = workspace_with_cimd_client(CimdStatus::Pending, None);
    let approved = postern(dir.path(), &["clients", "approve", CIMD_ID], None);
    assert!(approved.status.success(), "{}", stderr(&approved));
    assert_eq!(
        stdout(&approved).trim_end(),
        format!("approved {CIMD_ID} (was pending); running servers apply this within 5 seconds")
    );
    assert!(!stderr(&approved).contains("note:"), "the approval takes effect: {}", stderr(&approved));
    let (record, audit) = decision_and_audit(dir.path(), CIMD_ID, "cimd_client_approved");
    assert_eq!(record, Some((CimdStatus::Approved, Some("cli".to_owned()))));
    assert_eq!(audit, Some(serde_json::json!({ "by": "cli", "previous": "pending", "revoked_grants": 0 })));
    let list = stdout(&postern(dir.path(), &["clients", "list", "--cimd"], None));
    assert!(list.starts_with(&format!("{CIMD_ID}\tapproved\t")), "{list}");
    let plain = postern(dir.path(), &["clients", "list"], None);
    assert!(!stderr(&plain).contains("await approval"), "nothing is pending any more: {}", stderr(&plain));
}

#[test]
fn clients_deny_blocks_an_allowed_cimd_client_and_is_audited() {
    use postern_store::CimdStatus;
    let dir = workspace_with_cimd_client(CimdStatus::Allowed, Some("Example Agent"));
    let denied = postern(dir.path(), &["clients", "deny", CIMD_ID], None);
    assert!(denied.status.success(), "{}", stderr(&denied));
    assert_eq!(
        stdout(&denied).trim_end(),
        format!("denied {CIMD_ID} (was allowed); running servers apply this within 5 seconds")
    );
    let (record, audit) = decision_and_audit(dir.path(), CIMD_ID, "cimd_client_denied");
    assert_eq!(record, Some((CimdStatus::Denied, Some("cli".to_owned()))));
    assert_eq!(audit, Some(serde_json::json!({ "by": "cli", "previous": "allowed", "revoked_grants": 0 })));
    let list = stdout(&postern(dir.path(), &["clients", "list", "--cimd"], None));
    assert!(list.starts_with(&format!("{CIMD_ID}\tdenied\tExample Agent\t")), "{list}");
    // An operator can change their mind.
    let approved = postern(dir.path(), &["clients", "approve", CIMD_ID], None);
    assert!(stdout(&approved).starts_with(&format!("approved {CIMD_ID} (was denied)")), "{}", stdout(&approved));
}

#[test]
fn clients_approve_and_deny_pre_decide_clients_not_seen_yet() {
    use postern_store::CimdStatus;
    let dir = workspace(APPROVAL);
    let approved = postern(dir.path(), &["clients", "approve", CIMD_ID], None);
    assert!(approved.status.success(), "{}", stderr(&approved));
    assert!(stdout(&approved).starts_with(&format!("pre-approved {CIMD_ID} ")), "{}", stdout(&approved));
    assert!(stdout(&approved).contains("within 5 seconds"), "{}", stdout(&approved));
    // A query is accepted: the operator may name any client a server could have accepted.
    let with_query = "https://agents.example.org/client.json?tenant=7";
    let denied = postern(dir.path(), &["clients", "deny", with_query], None);
    assert!(denied.status.success(), "{}", stderr(&denied));
    assert!(stdout(&denied).starts_with(&format!("pre-denied {with_query} ")), "{}", stdout(&denied));

    let (record, audit) = decision_and_audit(dir.path(), CIMD_ID, "cimd_client_approved");
    assert_eq!(record, Some((CimdStatus::Approved, Some("cli".to_owned()))));
    assert_eq!(audit, Some(serde_json::json!({ "by": "cli", "previous": null, "revoked_grants": 0 })));
    let (record, audit) = decision_and_audit(dir.path(), with_query, "cimd_client_denied");
    assert_eq!(record, Some((CimdStatus::Denied, Some("cli".to_owned()))));
    assert_eq!(audit, Some(serde_json::json!({ "by": "cli", "previous": null, "revoked_grants": 0 })));
    // The host is recorded, and a server that sees the client later keeps the decision.
    with_store(dir.path(), async |store| {
        let seen = store.record_cimd_client_seen(CIMD_ID, "app.example.com", CimdStatus::Pending, SEEN_AT).await;
        let seen = seen.unwrap();
        assert_eq!((seen.host.as_str(), seen.status), ("app.example.com", CimdStatus::Approved));
    });
    let list = stdout(&postern(dir.path(), &["clients", "list", "--cimd"], None));
    assert!(list.contains(&format!("{CIMD_ID}\tapproved\t-\t")), "{list}");
    assert!(list.contains(&format!("{with_query}\tdenied\t-\t")), "{list}");
}

#[test]
fn clients_approve_says_when_domain_policy_overrides_it() {
    let dir = workspace("[cimd]\nunknown_domains = \"approval\"\ndeny_domains = [\"*.example.com\"]\n");
    let approved = postern(dir.path(), &["clients", "approve", CIMD_ID], None);
    assert!(approved.status.success(), "{}", stderr(&approved));
    assert!(stdout(&approved).starts_with(&format!("pre-approved {CIMD_ID} ")), "{}", stdout(&approved));
    let note = stderr(&approved);
    assert!(note.contains("note: this configuration refuses app.example.com"), "{note}");
    assert!(note.contains("cimd.deny_domains"), "{note}");
    let allowed = workspace(APPROVAL);
    let approved = postern(allowed.path(), &["clients", "approve", "https://app.example.net/client.json"], None);
    assert!(approved.status.success(), "{}", stderr(&approved));
    assert!(!stderr(&approved).contains("note:"), "{}", stderr(&approved));
}

#[test]
fn clients_approve_and_deny_reject_what_is_not_a_cimd_client_id() {
    let dir = workspace("");
    let cases = [
        ("deny", "http://app.example.com/client.json", "https scheme"),
        ("deny", "https://app.example.com/", "must have a path"),
        ("deny", "https://app.example.com/oauth/../client.json", ". or .. path segments"),
        ("approve", "https://user@app.example.com/client.json", "username or password"),
        ("approve", "https://App.Example.com/client.json", "canonical form"),
        ("deny", "svc", "postern clients add"),
    ];
    for (verb, client_id, message) in cases {
        let output = postern(dir.path(), &["clients", verb, client_id], None);
        assert!(!output.status.success(), "{verb} {client_id} must fail: {}", stdout(&output));
        let error = stderr(&output);
        assert!(error.contains(client_id) && error.contains("not a"), "{verb} {client_id}: {error}");
        assert!(error.contains(message), "{verb} {client_id}: {error}");
    }
    let list = postern(dir.path(), &["clients", "list", "--cimd"], None);
    assert!(list.status.success(), "{}", stderr(&list));
    assert_eq!(stdout(&list), "", "a rejected client_id must not enter the inventory");
}

#[test]
fn clients_help_explains_approve_deny_and_the_cimd_listing() {
    let dir = workspace("");
    let help = stdout(&postern(dir.path(), &["clients", "--help"], None));
    assert!(help.contains("approve") && help.contains("deny") && help.contains("CIMD"), "{help}");
    let approve = stdout(&postern(dir.path(), &["clients", "approve", "--help"], None));
    assert!(approve.contains("pending") && approve.contains("pre-approved"), "{approve}");
    let deny = stdout(&postern(dir.path(), &["clients", "deny", "--help"], None));
    assert!(deny.contains("pre-denied"), "{deny}");
    let list = stdout(&postern(dir.path(), &["clients", "list", "--help"], None));
    assert!(list.contains("--cimd") && list.contains("RFC 3339"), "{list}");
}

#[test]
fn dcr_initial_access_tokens_are_printed_once_listed_without_values_and_revocable() {
    let dir = workspace("[dcr]\nenabled = true\nrequire_initial_access_token = true\n");
    let created = postern(dir.path(), &["dcr", "tokens", "create", "--label", "ci runner", "--uses", "3"], None);
    assert!(created.status.success(), "{}", stderr(&created));
    let line = stdout(&created);
    let (id, token) = line.trim().split_once('\t').unwrap();
    assert!(id.starts_with("iat_") && token.starts_with("piat_"), "{line}");

    let listed = stdout(&postern(dir.path(), &["dcr", "tokens", "list"], None));
    assert!(listed.contains(id) && listed.contains("ci runner") && listed.contains("uses_left=3"), "{listed}");
    assert!(!listed.contains(token), "the value is never shown again: {listed}");

    let revoked = postern(dir.path(), &["dcr", "tokens", "revoke", id], None);
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    assert!(stdout(&postern(dir.path(), &["dcr", "tokens", "list"], None)).contains("revoked"));
    let again = postern(dir.path(), &["dcr", "tokens", "revoke", id], None);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("no active initial access token"), "{}", stderr(&again));
    let bad = postern(dir.path(), &["dcr", "tokens", "create", "--label", "x", "--uses", "0"], None);
    assert!(!bad.status.success());
}

#[test]
fn a_self_registered_client_waiting_for_approval_is_approved_or_denied_by_its_id() {
    let dir = workspace("[dcr]\nenabled = true\napproval = \"required\"\n");
    assert!(postern(dir.path(), &["migrate"], None).status.success());
    with_store(dir.path(), async |store| {
        let client = postern_store::ClientRecord {
            client_id: "dcr_waiting".into(),
            client_name: "Waiting".into(),
            redirect_uris: vec!["http://127.0.0.1/callback".into()],
            grant_types: vec!["authorization_code".into()],
            token_endpoint_auth_method: "none".into(),
            secret_hash: None,
            scope: None,
            jwks: None,
            jwks_uri: None,
            source: postern_store::ClientSource::Dcr,
            status: postern_store::ClientStatus::Pending,
            secret_expires_at: None,
            created_at: SEEN_AT,
        };
        store.insert_client(&client).await.unwrap();
    });
    let approved = postern(dir.path(), &["clients", "approve", "dcr_waiting"], None);
    assert!(approved.status.success(), "{}", stderr(&approved));
    assert!(stdout(&approved).contains("approved dcr_waiting (was pending)"), "{}", stdout(&approved));
    let status = with_store(dir.path(), async |store| store.find_client("dcr_waiting").await.unwrap().unwrap().status);
    assert_eq!(status, postern_store::ClientStatus::Active);
    let denied = postern(dir.path(), &["clients", "deny", "dcr_waiting"], None);
    assert!(stdout(&denied).contains("denied dcr_waiting (was active)"), "{}", stdout(&denied));
    let unknown = postern(dir.path(), &["clients", "approve", "dcr_nobody"], None);
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("no client dcr_nobody: it is not a registered client_id"),
        "{}",
        stderr(&unknown)
    );
}

#[test]
fn admin_tokens_are_printed_once_listed_with_their_access_and_revocable() {
    let dir = workspace("");
    let created = postern(dir.path(), &["admin-tokens", "create", "--label", "monitoring", "--access", "read"], None);
    assert!(created.status.success(), "{}", stderr(&created));
    let line = stdout(&created);
    let (id, token) = line.trim().split_once('\t').unwrap();
    assert!(id.starts_with("adm_") && token.starts_with("padm_"), "{line}");

    let listed = stdout(&postern(dir.path(), &["admin-tokens", "list"], None));
    assert!(listed.contains(id) && listed.contains("monitoring") && listed.contains("\tread\tactive"), "{listed}");
    assert!(!listed.contains(token), "the value is never shown again: {listed}");

    assert!(postern(dir.path(), &["admin-tokens", "revoke", id], None).status.success());
    assert!(stdout(&postern(dir.path(), &["admin-tokens", "list"], None)).contains("\trevoked"));
    let again = postern(dir.path(), &["admin-tokens", "revoke", id], None);
    assert!(stderr(&again).contains("no active admin token"), "{}", stderr(&again));

    for bad in [
        vec!["admin-tokens", "create", "--label", "x", "--access", "root"],
        vec!["admin-tokens", "create", "--label", "", "--access", "write"],
        vec!["admin-tokens", "create", "--label", "x", "--access", "write", "--expires-in", "0"],
    ] {
        assert!(!postern(dir.path(), &bad, None).status.success(), "{bad:?} was accepted");
    }
}

#[test]
fn environment_variables_override_the_file_for_top_level_and_section_keys() {
    let dir = workspace("");
    let check = |vars: &[(&str, &str)]| {
        Command::new(env!("CARGO_BIN_EXE_postern"))
            .args(["--config", dir.path().join("postern.toml").to_str().unwrap(), "config", "check", "postern.toml"])
            .current_dir(dir.path())
            .envs(vars.iter().copied())
            .output()
            .unwrap()
    };
    // Invalid values prove the variables are read: each must make the check fail, naming the key.
    let listen = check(&[("POSTERN_LISTEN", "nonsense")]);
    assert!(!listen.status.success() && stderr(&listen).contains("listen"), "{}", stderr(&listen));
    let ttl = check(&[("POSTERN_TOKENS__ACCESS_TOKEN_TTL_SECS", "5")]);
    assert!(!ttl.status.success() && stderr(&ttl).contains("access_token_ttl_secs"), "{}", stderr(&ttl));
    let issuer = check(&[("POSTERN_ISSUER", "https://auth.example.com/t1")]);
    assert!(stdout(&issuer).contains("issuer https://auth.example.com/t1"), "{}", stdout(&issuer));
}
