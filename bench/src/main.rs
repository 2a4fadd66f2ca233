//! Measures Postern's hot paths over real HTTP on loopback: authorization-code exchanges,
//! refresh rotations, introspections, and /authorize for a pre-registered client against a
//! cached CIMD client (DESIGN §8, issue 3). See bench/README.md.

mod authorize;
mod register;

use anyhow::{Context, bail};
use postern_core::{Clock, OpaqueToken, PkceVerifier, SystemClock, TokenHash};
use postern_fetch::SafeFetcher;
use postern_fetch::test_fixture::TlsServer;
use postern_server::config::{ClientConfig, Config};
use postern_server::{Application, bootstrap};
use postern_store::test_support::{Backend, isolated_store};
use postern_store::{AuditEvent, AuthorizationCodeRecord, Store, UserRecord};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const CLIENT: &str = "bench-client";
const RS_CLIENT: &str = "bench-rs";
const RS_SECRET: &str = "pcs_bench-resource-server-secret";
const VERIFIER: &str = "bench-verifier-bench-verifier-bench-verifier-0123";
const USERNAME: &str = "bench-user";
const PASSWORD: &str = "bench-password-bench-password";

struct Options {
    backend: Backend,
    seconds: u64,
    concurrency: usize,
}

fn options() -> anyhow::Result<Options> {
    let mut options = Options { backend: Backend::Sqlite, seconds: 10, concurrency: 32 };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--backend" => {
                options.backend = match value()?.as_str() {
                    "sqlite" => Backend::Sqlite,
                    "postgres" => Backend::Postgres,
                    other => bail!("unknown backend {other}"),
                }
            }
            "--seconds" => options.seconds = value()?.parse()?,
            "--concurrency" => options.concurrency = value()?.parse()?,
            other => bail!("unknown argument {other}; see bench/README.md"),
        }
    }
    Ok(options)
}

struct Target {
    base: String,
    resource: String,
    store: Store,
    http: reqwest::Client,
    /// Like a browser talking to /authorize: redirects are answers, not followed.
    browser: reqwest::Client,
    /// Serves the CIMD client's metadata document.
    documents: TlsServer,
    /// A second node on the same database with the default registration rate limit.
    flood_base: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = options()?;
    // The server and its client live for the whole process; leaking makes them 'static for the
    // load tasks.
    let target: &'static Target = Box::leak(Box::new(start_server(options.backend).await?));
    let duration = Duration::from_secs(options.seconds);
    println!(
        "postern bench: backend {:?}, {} s per scenario, {} concurrent connections, {} cores",
        options.backend,
        options.seconds,
        options.concurrency,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );

    // Enough codes that the exchange loop never runs dry at 20,000/s.
    let codes = mint_codes(target, 20_000 * options.seconds as usize).await?;
    let codes = Arc::new(codes);
    let next = Arc::new(AtomicUsize::new(0));
    let exchange = run(target, duration, options.concurrency, move |t, _| {
        let (codes, next) = (codes.clone(), next.clone());
        async move {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let code = codes.get(i).context("ran out of pre-minted codes")?;
            let form = [
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("code_verifier", VERIFIER),
                ("client_id", CLIENT),
                ("resource", t.resource.as_str()),
            ];
            expect_ok(t.http.post(format!("{}/token", t.base)).form(&form).send().await?).await.map(|_| ())
        }
    })
    .await?;
    report("authorization_code exchange", &exchange, 2_000.0);

    // Each connection walks its own refresh-token chain.
    let refresh = run_chains(target, duration, options.concurrency).await?;
    report("refresh_token rotation", &refresh, 3_000.0);

    let access = first_access_token(target).await?;
    let access = Arc::new(access);
    let introspect = run(target, duration, options.concurrency, move |t, _| {
        let access = access.clone();
        async move {
            let response = t
                .http
                .post(format!("{}/introspect", t.base))
                .basic_auth(RS_CLIENT, Some(RS_SECRET))
                .form(&[("token", access.as_str())])
                .send()
                .await?;
            let body = expect_ok(response).await?;
            if body["active"] != true {
                bail!("introspection returned {body}");
            }
            Ok(())
        }
    })
    .await?;
    report("introspection", &introspect, 15_000.0);

    // /authorize for a returning user: pre-registered client, then a CIMD client whose document
    // is cached (signing in and the first consent fetch it once).
    let cimd_client = authorize::document_url(&target.documents);
    let cookie = authorize::sign_in(target, CLIENT).await?;
    authorize::approve(target, &cookie, CLIENT).await?;
    authorize::approve(target, &cookie, &cimd_client).await?;
    let registered = authorize::load(target, duration, options.concurrency, cookie.clone(), CLIENT.to_owned()).await?;
    report("authorize (pre-registered)", &registered, 1_000.0);
    let cimd = authorize::load(target, duration, options.concurrency, cookie, cimd_client).await?;
    report("authorize (cached CIMD)", &cimd, 1_000.0);
    let rate = |o: &Outcome| o.requests as f64 / o.elapsed.as_secs_f64();
    let extra = (rate(&registered) / rate(&cimd) - 1.0) * 100.0;
    println!(
        "cached CIMD costs {extra:+.1}% per /authorize against a pre-registered client (target < 10%: {})",
        if extra < 10.0 { "met" } else { "NOT met" }
    );

    let registrations = register::throughput(target, duration, options.concurrency).await?;
    report("DCR registration", &registrations, 500.0);
    let flood = register::flood(target, 10_000, options.concurrency).await?;
    println!(
        "DCR flood: 10,000 registrations from one address in {:.1} s: {} accepted, {} refused (429); \
         {} client rows and {} audit events added",
        flood.elapsed.as_secs_f64(),
        flood.accepted,
        flood.refused,
        flood.rows_added,
        flood.audit_events_added
    );
    Ok(())
}

async fn start_server(backend: Backend) -> anyhow::Result<Target> {
    let (store, database, _guard) = isolated_store(backend).await?;
    std::mem::forget(_guard); // keep the database until the process exits
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let base = format!("http://127.0.0.1:{port}");
    let mut config =
        Config { issuer: base.clone(), listen: format!("127.0.0.1:{port}"), database, ..Config::default() };
    config.resources[0].uri = format!("{base}/demo/mcp");
    config.clients = vec![
        ClientConfig {
            client_id: CLIENT.into(),
            client_name: None,
            redirect_uris: vec!["http://127.0.0.1/callback".into()],
            token_endpoint_auth_method: "none".into(),
            client_secret_sha256: None,
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            scope: None,
            jwks: None,
            jwks_uri: None,
        },
        ClientConfig {
            client_id: RS_CLIENT.into(),
            client_name: None,
            redirect_uris: vec!["https://rs.example/cb".into()],
            token_endpoint_auth_method: "client_secret_basic".into(),
            client_secret_sha256: Some(TokenHash::of(RS_SECRET).as_str().to_owned()),
            grant_types: vec!["authorization_code".into()],
            scope: None,
            jwks: None,
            jwks_uri: None,
        },
    ];
    let documents = authorize::document_server().await;
    let ca_file = std::env::temp_dir().join(format!("postern-bench-ca-{}.pem", std::process::id()));
    std::fs::write(&ca_file, &documents.ca_pem)?;
    config.outbound.allow_cidrs = vec!["127.0.0.1/32".into()];
    config.outbound.extra_root_certs = vec![ca_file];
    config.dcr.enabled = true;
    config.dcr.max_clients = i64::MAX;
    // The flood node keeps the default per-IP limit; this one measures registration itself.
    let flood_config = config.clone();
    config.dcr.registrations_per_ip_per_hour = u32::MAX;
    let settings = config.validate()?;
    bootstrap::prepare(&store, &settings, SystemClock.now()).await?;
    store
        .create_user(&UserRecord {
            id: "u_bench".into(),
            username: USERNAME.into(),
            password_hash: postern_server::passwords::hash_password(PASSWORD)?,
            is_admin: false,
            created_at: SystemClock.now(),
            disabled_at: None,
        })
        .await?;
    // `cimd.test` is the fixture's name; only the resolver differs from production.
    let fetcher =
        SafeFetcher::with_resolver(settings.outbound.clone(), Arc::new(postern_fetch::test_fixture::resolver()))?;
    let app = Application::with_fetcher(listener, settings, store.clone(), Arc::new(SystemClock), fetcher).await?;
    tokio::spawn(app.run(std::future::pending()));
    let flood_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let flood_base = format!("http://127.0.0.1:{}", flood_listener.local_addr()?.port());
    let flood_settings = flood_config.validate()?;
    let flood_node =
        Application::with_listener(flood_listener, flood_settings, store.clone(), Arc::new(SystemClock)).await?;
    tokio::spawn(flood_node.run(std::future::pending()));
    let http = reqwest::Client::builder().pool_max_idle_per_host(1024).build()?;
    let browser =
        reqwest::Client::builder().pool_max_idle_per_host(1024).redirect(reqwest::redirect::Policy::none()).build()?;
    Ok(Target { resource: format!("{base}/demo/mcp"), base, store, http, browser, documents, flood_base })
}

/// Codes inserted straight into the store, as /authorize would after login and consent.
async fn mint_codes(target: &Target, count: usize) -> anyhow::Result<Vec<String>> {
    let challenge = PkceVerifier::parse(VERIFIER)?.challenge();
    let now = SystemClock.now();
    let mut codes = Vec::with_capacity(count);
    for _ in 0..count {
        let code = OpaqueToken::generate("pc_")?;
        let record = AuthorizationCodeRecord {
            code_hash: code.hash().as_str().to_owned(),
            grant_id: postern_core::secret::random_id("g_")?,
            client_id: CLIENT.into(),
            user_id: "u_bench".into(),
            redirect_uri: "http://127.0.0.1/callback".into(),
            code_challenge: challenge.as_str().to_owned(),
            scope: "mcp:read".into(),
            resource: target.resource.clone(),
            auth_time: now,
            issued_at: now,
            // Long enough to outlive the run; the bench measures exchange cost, not expiry.
            expires_at: now + 3600,
            consumed_at: None,
            client_snapshot: None,
        };
        target.store.insert_authorization_code(&record, &AuditEvent::new("code_issued")).await?;
        codes.push(code.into_string());
    }
    Ok(codes)
}

async fn exchange_one(target: &Target, code: &str) -> anyhow::Result<serde_json::Value> {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("code_verifier", VERIFIER),
        ("client_id", CLIENT),
        ("resource", target.resource.as_str()),
    ];
    expect_ok(target.http.post(format!("{}/token", target.base)).form(&form).send().await?).await
}

async fn first_access_token(target: &Target) -> anyhow::Result<String> {
    let code = mint_codes(target, 1).await?.remove(0);
    let body = exchange_one(target, &code).await?;
    Ok(body["access_token"].as_str().context("no access_token")?.to_owned())
}

async fn expect_ok(response: reqwest::Response) -> anyhow::Result<serde_json::Value> {
    let status = response.status();
    let body: serde_json::Value = response.json().await?;
    if !status.is_success() {
        bail!("HTTP {status}: {body}");
    }
    Ok(body)
}

struct Outcome {
    requests: usize,
    elapsed: Duration,
    latencies_us: Vec<u64>,
}

/// Runs `request` from `concurrency` tasks for `duration`; any failed request aborts the run.
async fn run<F, Fut>(
    target: &'static Target,
    duration: Duration,
    concurrency: usize,
    request: F,
) -> anyhow::Result<Outcome>
where
    F: Fn(&'static Target, usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let begun = Instant::now();
                request(target, worker).await?;
                latencies.push(begun.elapsed().as_micros() as u64);
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut latencies_us = Vec::new();
    for task in tasks {
        latencies_us.extend(task.await??);
    }
    latencies_us.sort_unstable();
    Ok(Outcome { requests: latencies_us.len(), elapsed: started.elapsed(), latencies_us })
}

async fn run_chains(target: &'static Target, duration: Duration, concurrency: usize) -> anyhow::Result<Outcome> {
    let mut chains = Vec::new();
    for code in mint_codes(target, concurrency).await? {
        let body = exchange_one(target, &code).await?;
        chains.push(tokio::sync::Mutex::new(body["refresh_token"].as_str().context("no refresh_token")?.to_owned()));
    }
    let chains = Arc::new(chains);
    run(target, duration, concurrency, move |t, worker| {
        let chains = chains.clone();
        async move {
            let mut current = chains[worker].lock().await;
            let form = [("grant_type", "refresh_token"), ("refresh_token", current.as_str()), ("client_id", CLIENT)];
            let body = expect_ok(t.http.post(format!("{}/token", t.base)).form(&form).send().await?).await?;
            *current = body["refresh_token"].as_str().context("no refresh_token")?.to_owned();
            Ok(())
        }
    })
    .await
}

fn report(name: &str, outcome: &Outcome, budget: f64) {
    let rate = outcome.requests as f64 / outcome.elapsed.as_secs_f64();
    let percentile = |p: f64| {
        let index = ((outcome.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        outcome.latencies_us.get(index).copied().unwrap_or(0) as f64 / 1000.0
    };
    println!(
        "{name:<30} {rate:>9.0} req/s  (budget >= {budget:.0}: {})  p50 {:.2} ms  p99 {:.2} ms  n={}",
        if rate >= budget { "met" } else { "NOT met" },
        percentile(0.5),
        percentile(0.99),
        outcome.requests
    );
}
