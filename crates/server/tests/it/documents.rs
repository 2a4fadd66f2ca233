//! The CIMD fixture (DESIGN §7): an HTTPS server for `cimd.test` with a throwaway CA, serving
//! whatever each test puts at a path, and a server configured to trust that CA through
//! `outbound.extra_root_certs` and to reach loopback through `outbound.allow_cidrs`.

use postern_fetch::test_fixture::{Body, Parts, Response, TlsServer, json, not_found, response};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One canned answer.
#[derive(Clone)]
pub struct Route {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
    /// Wait before answering (a slow server).
    pub delay: Duration,
}

impl Route {
    /// 200 `application/json`, cacheable for five minutes.
    pub fn json(value: &serde_json::Value) -> Self {
        Self {
            status: 200,
            content_type: "application/json".into(),
            body: value.to_string().into_bytes(),
            headers: vec![("cache-control".into(), "max-age=300".into())],
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn status(self, status: u16) -> Self {
        Self { status, ..self }
    }

    pub fn content_type(self, content_type: &str) -> Self {
        Self { content_type: content_type.into(), ..self }
    }

    pub fn delay(self, delay: Duration) -> Self {
        Self { delay, ..self }
    }

    fn respond(&self) -> Response<Body> {
        let headers: Vec<(&str, &str)> = self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        if self.content_type == "application/json" {
            json(self.status, self.body.clone(), &headers)
        } else {
            response(self.status, &self.content_type, self.body.clone(), &headers)
        }
    }
}

pub struct DocumentServer {
    pub tls: TlsServer,
    routes: Arc<Mutex<HashMap<String, Route>>>,
    ca_file: tempfile::NamedTempFile,
}

impl DocumentServer {
    pub async fn start() -> Self {
        let routes: Arc<Mutex<HashMap<String, Route>>> = Arc::default();
        let served = routes.clone();
        let tls = TlsServer::start(move |request: Parts| {
            let route = served.lock().unwrap().get(request.uri.path()).cloned();
            async move {
                match route {
                    Some(route) => {
                        tokio::time::sleep(route.delay).await;
                        route.respond()
                    }
                    None => not_found(),
                }
            }
        })
        .await;
        let ca_file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(ca_file.path(), &tls.ca_pem).unwrap();
        Self { tls, routes, ca_file }
    }

    /// `https://cimd.test:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        self.tls.url(path)
    }

    pub fn serve(&self, path: &str, route: Route) {
        self.routes.lock().unwrap().insert(path.to_owned(), route);
    }

    /// Serves a valid client metadata document at `path` and returns its client_id.
    pub fn serve_client(&self, path: &str, name: &str, redirect_uris: &[&str]) -> String {
        let client_id = self.url(path);
        self.serve(path, Route::json(&client_document(&client_id, name, redirect_uris)));
        client_id
    }

    pub fn hits(&self, path: &str) -> usize {
        self.tls.hits.of(path)
    }

    pub fn ca_file(&self) -> std::path::PathBuf {
        self.ca_file.path().to_owned()
    }
}

pub fn client_document(client_id: &str, name: &str, redirect_uris: &[&str]) -> serde_json::Value {
    serde_json::json!({
        "client_id": client_id,
        "client_name": name,
        "redirect_uris": redirect_uris,
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "none",
    })
}
