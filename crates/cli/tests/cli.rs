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
