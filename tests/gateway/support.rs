//! Test harness: the real gateway on 127.0.0.1:0 in front of mock upstreams.

use std::net::SocketAddr;
use std::time::Duration;

use g_aigateway::config::{Config, RetryConfig, Secret, TenantConfig, UpstreamConfig};
use g_aigateway::{ConfigSource, RunError, run_reloadable};
use mock_upstream::{MockOptions, MockUpstream};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const KEY_A: &str = "gw-key-team-a";
pub const KEY_B: &str = "gw-key-team-b";
pub const UPSTREAM_KEYS: [&str; 2] = ["sk-upstream-1", "sk-upstream-2"];

pub struct TestGateway {
    pub addr: SocketAddr,
    pub shutdown: CancellationToken,
    pub handle: JoinHandle<Result<(), RunError>>,
    pub http: reqwest::Client,
}

impl TestGateway {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// POSTs `body` as tenant A.
    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(KEY_A)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("gateway reachable")
    }

    /// The `/readyz` body (whatever its status).
    pub async fn readyz(&self) -> Value {
        let response = self.http.get(self.url("/readyz")).send().await;
        let response = response.expect("gateway reachable");
        response.json().await.expect("readyz JSON")
    }

    pub async fn metrics(&self) -> String {
        let response = self
            .http
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("metrics");
        response.text().await.expect("metrics text")
    }
}

pub async fn mock() -> MockUpstream {
    MockUpstream::start(MockOptions::default())
        .await
        .expect("mock upstream starts")
}

/// Two tenants, one upstream (the mock) with two keys, fast retries.
pub fn config_for(mock: &MockUpstream) -> Config {
    let tenant = |name: &str, key: &str| TenantConfig {
        name: name.into(),
        api_keys: vec![Secret::new(key)],
        limits: Default::default(),
        cache: Default::default(),
    };
    let mut config = Config {
        upstreams: vec![UpstreamConfig {
            name: "mock".into(),
            base_url: mock.base_url(),
            api_keys: UPSTREAM_KEYS.iter().map(|k| Secret::new(*k)).collect(),
        }],
        tenants: vec![tenant("team-a", KEY_A), tenant("team-b", KEY_B)],
        retry: RetryConfig {
            base_delay_ms: 1,
            max_delay_ms: 10,
            attempt_timeout_secs: 5,
            deadline_secs: 10,
            ..RetryConfig::default()
        },
        ..Config::default()
    };
    config.server.shutdown_grace_secs = 10;
    // Tests that need the semantic cache turn it on (see semantic.rs), and
    // those that need snapshots give them a directory of their own (cluster.rs).
    config.embedding.kind = g_aigateway::config::EmbedderKind::Off;
    config.cluster.snapshots = false;
    config
}

pub async fn start(config: Config) -> TestGateway {
    launch(config, None).await
}

/// Like [`start`], reloading from `source` on `POST /admin/reload`.
pub async fn start_reloadable(config: Config, source: ConfigSource) -> TestGateway {
    launch(config, Some(source)).await
}

async fn launch(config: Config, source: Option<ConfigSource>) -> TestGateway {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(run_reloadable(listener, config, shutdown.clone(), source));
    TestGateway {
        addr,
        shutdown,
        handle,
        http: reqwest::Client::new(),
    }
}

pub fn chat(content: &str) -> Value {
    json!({"model": "mock-model", "messages": [{"role": "user", "content": content}]})
}

pub fn chat_stream(content: &str) -> Value {
    let mut body = chat(content);
    body["stream"] = json!(true);
    body
}

/// Reads a response's SSE body chunk by chunk into one string.
pub async fn read_all(response: &mut reqwest::Response) -> Result<String, reqwest::Error> {
    let mut text = String::new();
    while let Some(chunk) = response.chunk().await? {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    Ok(text)
}

/// The error `code` of an OpenAI error body.
pub async fn error_code(response: reqwest::Response) -> String {
    let body: Value = response.json().await.expect("error body is JSON");
    assert!(
        body["error"]["message"].is_string(),
        "OpenAI error shape: {body}"
    );
    assert!(
        body["error"]["type"].is_string(),
        "OpenAI error shape: {body}"
    );
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

pub const WAIT: Duration = Duration::from_secs(10);

/// The assistant text carried by an SSE body.
pub fn content_of_sse(text: &str) -> String {
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_string)
        })
        .collect()
}
