//! Dynamic Client Registration (issue 5): registrations per second with the rate limit out of
//! the way, and what a flood from one address leaves in the database with the default limit.

use crate::{Outcome, Target, run};
use anyhow::bail;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

fn metadata(n: usize) -> serde_json::Value {
    serde_json::json!({
        "client_name": format!("Bench client {n}"),
        "redirect_uris": ["http://127.0.0.1/callback"],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
    })
}

/// POST /register with distinct metadata until `duration` is over; every answer must be 201.
pub async fn throughput(target: &'static Target, duration: Duration, concurrency: usize) -> anyhow::Result<Outcome> {
    let next = Arc::new(AtomicUsize::new(0));
    run(target, duration, concurrency, move |t, _| {
        let next = next.clone();
        async move {
            let n = next.fetch_add(1, Ordering::Relaxed);
            let response = t.http.post(format!("{}/register", t.base)).json(&metadata(n)).send().await?;
            if response.status() != 201 {
                bail!("registration answered {}", response.status());
            }
            Ok(())
        }
    })
    .await
}

/// What `count` registrations from one address, `concurrency` at a time, leave behind.
pub struct Flood {
    pub accepted: usize,
    pub refused: usize,
    pub rows_added: i64,
    pub audit_events_added: usize,
    pub elapsed: Duration,
}

pub async fn flood(target: &'static Target, count: usize, concurrency: usize) -> anyhow::Result<Flood> {
    let rows_before = target.store.count_dcr_clients().await?;
    let audit_before = target.store.recent_audit_events(1_000_000).await?.len();
    let started = std::time::Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let (mut accepted, mut refused) = (0, 0);
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= count {
                    return Ok::<_, anyhow::Error>((accepted, refused));
                }
                let url = format!("{}/register", target.flood_base);
                let status = target.http.post(url).json(&metadata(1_000_000 + n)).send().await?.status();
                match status.as_u16() {
                    201 => accepted += 1,
                    429 => refused += 1,
                    other => bail!("flood registration answered {other}"),
                }
            }
        }));
    }
    let (mut accepted, mut refused) = (0, 0);
    for task in tasks {
        let (a, r) = task.await??;
        accepted += a;
        refused += r;
    }
    Ok(Flood {
        accepted,
        refused,
        rows_added: target.store.count_dcr_clients().await? - rows_before,
        audit_events_added: target.store.recent_audit_events(1_000_000).await?.len() - audit_before,
        elapsed: started.elapsed(),
    })
}
