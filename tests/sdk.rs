//! SDK conformance: the official OpenAI Python and Node clients (pinned;
//! `bash scripts/sdk-setup.sh` installs them, the README's test command runs
//! it) against the real gateway and its mock upstream — JSON and streams,
//! usage on hits, coalesced streams, the Responses API, models, embeddings
//! (base64 and float), tools, error classes, a cut stream.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use g_aigateway::config::{
    Config, EmbedderKind, RetryConfig, Secret, TenantConfig, TenantLimits, UpstreamConfig,
};
use mock_upstream::{MockOptions, MockUpstream};
use tokio_util::sync::CancellationToken;

const SDK_KEY: &str = "sk-gateway-sdk";
const LIMITED_KEY: &str = "sk-gateway-limited";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tenant(name: &str, key: &str, limits: TenantLimits) -> TenantConfig {
    TenantConfig {
        name: name.into(),
        api_keys: vec![Secret::new(key)],
        limits,
        cache: Default::default(),
    }
}

/// The gateway on a free port in front of a mock whose streams take a while
/// (so a second client can join a running one).
async fn gateway() -> (String, MockUpstream, CancellationToken) {
    let options = MockOptions {
        chunk_delay: Duration::from_millis(40),
        ..MockOptions::default()
    };
    let mock = MockUpstream::start(options).await.expect("mock");
    let limited = TenantLimits {
        requests_per_minute: Some(1),
        request_burst: Some(1),
        ..TenantLimits::default()
    };
    let mut config = Config {
        upstreams: vec![UpstreamConfig {
            name: "mock".into(),
            base_url: mock.base_url(),
            api_keys: vec![Secret::new("sk-upstream")],
        }],
        tenants: vec![
            tenant("sdk", SDK_KEY, TenantLimits::default()),
            tenant("limited", LIMITED_KEY, limited),
        ],
        retry: RetryConfig {
            base_delay_ms: 1,
            max_delay_ms: 10,
            ..RetryConfig::default()
        },
        ..Config::default()
    };
    config.embedding.kind = EmbedderKind::Off;
    config.cluster.snapshots = false;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(g_aigateway::run(listener, config, shutdown.clone()));
    (format!("http://{addr}"), mock, shutdown)
}

/// Runs one SDK suite as a child process (off the runtime's threads).
async fn suite(program: &Path, script: &Path, url: &str) {
    assert!(
        program.exists() || program.components().count() == 1,
        "{} is missing: run `bash scripts/sdk-setup.sh` (the README's test command does)",
        program.display()
    );
    let (program, script, url) = (program.to_path_buf(), script.to_path_buf(), url.to_string());
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&program)
            .arg(&script)
            .env("GATEWAY_URL", url)
            .env("SDK_KEY", SDK_KEY)
            .env("LIMITED_KEY", LIMITED_KEY)
            .output()
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("cannot run the SDK suite: {e} (bash scripts/sdk-setup.sh)"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{text}");
    assert!(output.status.success(), "SDK suite failed:\n{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_sdk_works_unchanged() {
    let (url, _mock, shutdown) = gateway().await;
    let python = root().join("target/sdk-venv/bin/python");
    suite(&python, &root().join("tests/sdk/python/test_sdk.py"), &url).await;
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_node_sdk_works_unchanged() {
    let (url, _mock, shutdown) = gateway().await;
    let modules = root().join("tests/sdk/node/node_modules/openai");
    assert!(
        modules.exists(),
        "the Node SDK is missing: run `bash scripts/sdk-setup.sh` (the README's test command does)"
    );
    suite(
        Path::new("node"),
        &root().join("tests/sdk/node/test_sdk.mjs"),
        &url,
    )
    .await;
    shutdown.cancel();
}
