//! Retries: 429 with Retry-After and another key, 5xx up to the limit, no retry
//! once a stream started, timeouts and unreachable upstreams.

use std::time::{Duration, Instant};

use g_aigateway::config::{Secret, UpstreamConfig};
use mock_upstream::Fault;

use crate::support::*;

fn status(status: u16, retry_after: Option<&str>) -> Fault {
    Fault::Status {
        status,
        retry_after: retry_after.map(str::to_string),
    }
}

#[tokio::test]
async fn a_429_rests_its_key_for_retry_after_and_the_retry_uses_another_key() {
    let mock = mock().await;
    mock.push_faults([status(429, Some("30"))]);
    let gw = start(config_for(&mock)).await;
    let started = Instant::now();
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("a")).await.status(),
        200
    );
    // The retry did not wait the 30 s: another key was free.
    assert!(started.elapsed() < Duration::from_secs(5));
    // The throttled key keeps resting: the next requests all use the other key.
    for prompt in ["b", "c"] {
        let response = gw.post("/v1/chat/completions", &chat(prompt)).await;
        assert_eq!(response.status(), 200);
    }
    let seen: Vec<_> = mock.keys_seen().into_iter().flatten().collect();
    let (k1, k2) = (
        format!("Bearer {}", UPSTREAM_KEYS[0]),
        format!("Bearer {}", UPSTREAM_KEYS[1]),
    );
    assert_eq!(seen, vec![k1, k2.clone(), k2.clone(), k2]);
}

#[tokio::test]
async fn with_a_single_key_the_retry_waits_for_retry_after() {
    let mock = mock().await;
    mock.push_faults([status(429, Some("1"))]);
    let mut config = config_for(&mock);
    config.upstreams[0].api_keys = vec![Secret::new("only-key")];
    let gw = start(config).await;
    let started = Instant::now();
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("a")).await.status(),
        200
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retried before Retry-After"
    );
    assert_eq!(mock.requests(), 2);
}

#[tokio::test]
async fn a_retry_after_beyond_the_deadline_returns_429_at_once() {
    let mock = mock().await;
    mock.push_faults([status(429, Some("3600")), status(429, Some("3600"))]);
    let mut config = config_for(&mock);
    config.retry.max_retry_after_secs = 3600;
    let gw = start(config).await;
    let response = gw.post("/v1/chat/completions", &chat("a")).await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(error_code(response).await, "upstream_rate_limited");
    assert_eq!(
        mock.requests(),
        2,
        "both keys tried, then no waiting past the deadline"
    );
}

#[tokio::test]
async fn server_errors_are_retried_until_success() {
    let mock = mock().await;
    mock.push_faults([status(500, None), status(502, None)]);
    let gw = start(config_for(&mock)).await;
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("a")).await.status(),
        200
    );
    assert_eq!(mock.requests(), 3);
}

#[tokio::test]
async fn server_errors_are_retried_up_to_the_limit_then_502() {
    let mock = mock().await;
    mock.push_faults([
        status(503, None),
        status(503, None),
        status(503, None),
        status(503, None),
    ]);
    let gw = start(config_for(&mock)).await;
    let response = gw.post("/v1/chat/completions", &chat("a")).await;
    assert_eq!(response.status(), 502);
    assert_eq!(error_code(response).await, "upstream_unavailable");
    assert_eq!(mock.requests(), 3, "max_attempts is 3");
}

#[tokio::test]
async fn other_client_errors_are_returned_unchanged_without_retry() {
    let mock = mock().await;
    mock.push_faults([status(422, None)]);
    let gw = start(config_for(&mock)).await;
    let response = gw.post("/v1/chat/completions", &chat("a")).await;
    assert_eq!(response.status(), 422);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["message"], "mock: injected fault");
    assert_eq!(mock.requests(), 1);
}

#[tokio::test]
async fn a_stream_cut_mid_way_is_not_retried_and_ends_with_an_error_event() {
    let mock = mock().await;
    mock.push_faults([Fault::CutStreamAfter(2)]);
    mock.hold_streams();
    let gw = start(config_for(&mock)).await;
    let mut response = gw
        .post("/v1/chat/completions", &chat_stream("cut me"))
        .await;
    assert_eq!(response.status(), 200);
    // The client holds the first byte before the upstream breaks the stream.
    let first = response.chunk().await.unwrap().expect("first chunk");
    let mut text = String::from_utf8_lossy(&first).to_string();
    mock.release_streams(1);
    // Past the first byte the status cannot change: the stream ends with an
    // error event in OpenAI's shape, which the SDKs raise as an APIError.
    text.push_str(&read_all(&mut response).await.expect("a clean end"));
    let last = text
        .split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .last()
        .unwrap_or_default();
    let event: serde_json::Value =
        serde_json::from_str(last.trim().trim_start_matches("data:").trim()).expect("JSON event");
    assert_eq!(event["error"]["type"], "upstream_error", "{text}");
    assert!(event["error"]["message"].is_string());
    assert!(text.contains("\"role\":\"assistant\""));
    assert!(!text.contains("[DONE]"));
    assert_eq!(
        text.matches("\"role\":\"assistant\"").count(),
        1,
        "no second answer"
    );
    assert_eq!(mock.requests(), 1);
}

#[tokio::test]
async fn a_slow_upstream_gets_504_at_the_deadline() {
    let mock = mock().await;
    mock.push_faults([Fault::Delay(Duration::from_secs(30))]);
    let mut config = config_for(&mock);
    config.retry.deadline_secs = 1;
    let gw = start(config).await;
    let started = Instant::now();
    let response = gw.post("/v1/chat/completions", &chat("slow")).await;
    assert_eq!(response.status(), 504);
    assert_eq!(error_code(response).await, "upstream_timeout");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn an_unreachable_upstream_gets_502_after_retries() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let mock = mock().await;
    let mut config = config_for(&mock);
    config.upstreams = vec![UpstreamConfig {
        name: "gone".into(),
        base_url: format!("http://{closed}/v1"),
        api_keys: vec![],
    }];
    let gw = start(config).await;
    let response = gw.post("/v1/chat/completions", &chat("x")).await;
    assert_eq!(response.status(), 502);
    assert_eq!(error_code(response).await, "upstream_unavailable");
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("gateway_upstream_requests_total{upstream=\"gone\",status=\"error\"} 3"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_key_the_provider_refuses_is_quarantined_and_the_request_retried_on_another() {
    let mock = mock().await;
    mock.push_faults([status(401, None)]);
    let gw = start(config_for(&mock)).await;
    let response = gw.post("/v1/chat/completions", &chat("a")).await;
    assert_eq!(
        response.status(),
        200,
        "the client never sees the bad key's 401"
    );
    for prompt in ["b", "c", "d"] {
        let response = gw.post("/v1/chat/completions", &chat(prompt)).await;
        assert_eq!(response.status(), 200);
    }
    let seen: Vec<_> = mock.keys_seen().into_iter().flatten().collect();
    let (k1, k2) = (
        format!("Bearer {}", UPSTREAM_KEYS[0]),
        format!("Bearer {}", UPSTREAM_KEYS[1]),
    );
    assert_eq!(seen, vec![k1, k2.clone(), k2.clone(), k2.clone(), k2]);
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("gateway_upstream_keys_quarantined_total{upstream=\"mock\"} 1"),
        "{metrics}"
    );
    assert!(!metrics.contains(UPSTREAM_KEYS[0]), "no key in the metrics");
}

#[tokio::test]
async fn with_a_single_key_a_401_goes_to_the_client() {
    let mock = mock().await;
    mock.push_faults([status(401, None)]);
    let mut config = config_for(&mock);
    config.upstreams[0].api_keys = vec![Secret::new("only-key")];
    let gw = start(config).await;
    let response = gw.post("/v1/chat/completions", &chat("a")).await;
    assert_eq!(response.status(), 401);
    assert_eq!(mock.requests(), 1);
}

#[tokio::test]
async fn a_request_that_is_a_client_retry_is_not_retried_again() {
    let mock = mock().await;
    mock.push_faults([status(503, None), status(503, None), status(503, None)]);
    let gw = start(config_for(&mock)).await;
    let response = gw
        .http
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(KEY_A)
        .header("x-stainless-retry-count", "1")
        .body(chat("again").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    assert_eq!(
        mock.requests(),
        1,
        "the SDK retries; the gateway does not multiply them"
    );
}

#[tokio::test]
async fn retries_across_requests_stay_within_the_budget() {
    let mock = mock().await;
    mock.push_faults((0..200).map(|_| status(503, None)));
    let mut config = config_for(&mock);
    config.retry.max_attempts = 3;
    config.retry.budget_ratio = 0.2;
    config.retry.budget_min_per_sec = 0.0;
    let gw = start(config).await;
    for i in 0..20 {
        let response = gw
            .post("/v1/chat/completions", &chat(&format!("budget {i}")))
            .await;
        assert_eq!(response.status(), 502);
    }
    // 20 first attempts and at most 20 % more, not 3 x 20.
    assert!(mock.requests() <= 24, "{} upstream calls", mock.requests());
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("gateway_upstream_retries_refused_total"),
        "{metrics}"
    );
}

/// Two upstreams: `mock-model` on the first, `backup-model` on the second,
/// and `mock-model` falling back to `backup-model`.
fn with_fallback(
    primary: &mock_upstream::MockUpstream,
    backup: &mock_upstream::MockUpstream,
) -> g_aigateway::Config {
    let mut config = config_for(primary);
    config.upstreams.push(UpstreamConfig {
        name: "backup".into(),
        base_url: backup.base_url(),
        api_keys: vec![Secret::new("sk-backup")],
    });
    config.models.insert("backup-model".into(), "backup".into());
    config
        .fallbacks
        .insert("mock-model".into(), vec!["backup-model".into()]);
    let price = g_aigateway::config::Price {
        input: 1.0,
        output: 1.0,
    };
    config.prices.insert("backup-model".into(), price);
    config
}

#[tokio::test]
async fn a_failing_upstream_falls_back_to_the_next_model_of_the_chain() {
    let (primary, backup) = (mock().await, mock().await);
    primary.push_faults([status(503, None), status(503, None), status(503, None)]);
    let gw = start(with_fallback(&primary, &backup)).await;
    let response = gw.post("/v1/chat/completions", &chat("fall back")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["x-gateway-fallback-model"],
        "backup-model"
    );
    assert_eq!(primary.requests(), 3, "the primary got its retries first");
    let sent = backup.bodies();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["model"], "backup-model");
    assert_eq!(sent[0]["messages"][0]["content"], "fall back");
    assert_eq!(backup.keys_seen(), vec![Some("Bearer sk-backup".into())]);
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains(
            r#"gateway_upstream_fallbacks_total{from="mock-model",to="backup-model",result="ok"} 1"#
        ),
        "{metrics}"
    );
    // Priced as the model that answered.
    assert!(
        metrics.contains(r#"gateway_cost_usd_total{tenant="team-a",model="backup-model"}"#),
        "{metrics}"
    );
    // Another model's answer is not cached as this model's: the next ask
    // goes upstream again (to the primary, healthy now).
    let again = gw.post("/v1/chat/completions", &chat("fall back")).await;
    assert_eq!(again.status(), 200);
    assert!(again.headers().get("x-gateway-fallback-model").is_none());
    assert_eq!(again.headers()["x-gateway-cache"], "miss");
    assert_eq!(primary.requests(), 4);
}

#[tokio::test]
async fn an_answer_the_upstream_gave_is_never_replaced_by_a_fallback() {
    let (primary, backup) = (mock().await, mock().await);
    // A client error is the upstream's answer, not a failure: no fallback.
    primary.push_faults([status(400, None)]);
    let gw = start(with_fallback(&primary, &backup)).await;
    let response = gw.post("/v1/chat/completions", &chat("bad")).await;
    assert_eq!(response.status(), 400);
    assert_eq!(backup.requests(), 0);
    // A chain that fails too returns the original failure.
    primary.push_faults([status(503, None), status(503, None), status(503, None)]);
    backup.push_faults([status(503, None), status(503, None), status(503, None)]);
    let response = gw.post("/v1/chat/completions", &chat("all down")).await;
    assert_eq!(response.status(), 502);
    assert_eq!(backup.requests(), 3);
    assert!(gw.metrics().await.contains(r#"result="failed"} 1"#));
}
