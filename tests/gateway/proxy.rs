//! Faithful proxying: JSON, SSE, headers, routing, secrets, metrics.

use g_aigateway::config::UpstreamConfig;
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn json_completions_are_proxied_with_the_body_untouched() {
    let mock = mock().await;
    let gw = start(config_for(&mock)).await;
    let sent = json!({
        "model": "mock-model",
        "messages": [{"role": "user", "content": "hello there"}],
        "temperature": 0.2,
        "x_vendor_field": {"nested": [1, 2.5, "three"]},
    });
    let response = gw.post("/v1/chat/completions", &sent).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("application/json")
    );
    assert!(response.headers().contains_key("x-request-id"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Mock answer to: hello there"
    );
    assert_eq!(body["usage"]["completion_tokens"], 5);
    // The upstream saw exactly the client's fields, unknown ones included.
    assert_eq!(mock.bodies(), vec![sent]);
}

#[tokio::test]
async fn upstream_keys_replace_gateway_keys_and_never_reach_clients() {
    let mock = mock().await;
    let gw = start(config_for(&mock)).await;
    let response = gw.post("/v1/chat/completions", &chat("hi")).await;
    let headers = format!("{:?}", response.headers());
    let text = response.text().await.unwrap();
    let seen = mock.keys_seen();
    assert_eq!(seen, vec![Some(format!("Bearer {}", UPSTREAM_KEYS[0]))]);
    for secret in UPSTREAM_KEYS.iter().chain([&KEY_A]) {
        assert!(!headers.contains(secret) && !text.contains(secret));
    }
    let metrics = gw.metrics().await;
    assert!(!UPSTREAM_KEYS.iter().any(|k| metrics.contains(k)));
}

#[tokio::test]
async fn requests_spread_round_robin_over_the_key_pool() {
    let mock = mock().await;
    let gw = start(config_for(&mock)).await;
    for i in 0..4 {
        let response = gw
            .post("/v1/chat/completions", &chat(&format!("x{i}")))
            .await;
        assert_eq!(response.status(), 200);
    }
    let seen: Vec<_> = mock.keys_seen().into_iter().flatten().collect();
    let want: Vec<_> = [0, 1, 0, 1]
        .iter()
        .map(|i| format!("Bearer {}", UPSTREAM_KEYS[*i]))
        .collect();
    assert_eq!(seen, want);
}

#[tokio::test]
async fn sse_chunks_reach_the_client_before_the_upstream_finishes() {
    let mock = mock().await;
    mock.hold_streams();
    let gw = start(config_for(&mock)).await;
    let mut response = gw
        .post("/v1/chat/completions", &chat_stream("stream me"))
        .await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    // The mock is holding the rest of the stream: this chunk came through alone.
    let first = response.chunk().await.unwrap().expect("first chunk");
    let first = String::from_utf8_lossy(&first);
    assert!(first.contains("\"role\":\"assistant\""), "{first}");
    assert!(!first.contains("[DONE]"));
    mock.release_streams(1);
    let rest = read_all(&mut response).await.unwrap();
    assert!(rest.trim_end().ends_with("data: [DONE]"), "{rest}");
    let content = content_of_sse(&rest);
    assert_eq!(content, "Mock answer to: stream me");
}

#[tokio::test]
async fn a_client_that_disconnects_cancels_the_upstream_stream() {
    let mock = mock().await;
    mock.hold_streams();
    let gw = start(config_for(&mock)).await;
    let mut response = gw.post("/v1/chat/completions", &chat_stream("bye")).await;
    response.chunk().await.unwrap().expect("first chunk");
    drop(response);
    assert!(
        mock.wait_streams_cancelled(1, WAIT).await,
        "upstream stream was not cancelled"
    );
}

#[tokio::test]
async fn embeddings_and_models_are_proxied() {
    let mock = mock().await;
    let gw = start(config_for(&mock)).await;
    let body = json!({"model": "mock-embedding", "input": ["a", "b"]});
    let response = gw.post("/v1/embeddings", &body).await;
    assert_eq!(response.status(), 200);
    let value: Value = response.json().await.unwrap();
    assert_eq!(value["data"].as_array().unwrap().len(), 2);
    assert_eq!(value["data"][0]["embedding"].as_array().unwrap().len(), 384);

    let response = gw
        .http
        .get(gw.url("/v1/models"))
        .bearer_auth(KEY_B)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let value: Value = response.json().await.unwrap();
    assert_eq!(value["data"][0]["id"], "mock-model");
}

#[tokio::test]
async fn models_route_to_their_upstream_by_exact_name_or_prefix() {
    let (a, b) = (mock().await, mock().await);
    let mut config = config_for(&a);
    config.upstreams.push(UpstreamConfig {
        name: "b".into(),
        base_url: b.base_url(),
        api_keys: vec![],
    });
    config.models.insert("special-*".into(), "b".into());
    let gw = start(config).await;
    let mut body = chat("x");
    body["model"] = json!("special-7b");
    assert_eq!(gw.post("/v1/chat/completions", &body).await.status(), 200);
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("y")).await.status(),
        200
    );
    assert_eq!((a.requests(), b.requests()), (1, 1));
    assert_eq!(
        b.keys_seen(),
        vec![None],
        "an upstream without keys gets no Authorization"
    );
}

#[tokio::test]
async fn metrics_show_requests_upstream_attempts_and_retries_after_traffic() {
    let mock = mock().await;
    mock.push_faults([mock_upstream::Fault::Status {
        status: 503,
        retry_after: None,
    }]);
    let gw = start(config_for(&mock)).await;
    let response = gw.post("/v1/chat/completions", &chat("m")).await;
    assert_eq!(response.status(), 200);
    response.text().await.unwrap(); // the request is counted when its body ends
    let text = gw.metrics().await;
    for series in [
        "gateway_requests_total{route=\"chat_completions\",status=\"200\"} 1",
        "gateway_request_duration_seconds_bucket{route=\"chat_completions\"",
        "gateway_upstream_requests_total{upstream=\"mock\",status=\"503\"} 1",
        "gateway_upstream_requests_total{upstream=\"mock\",status=\"200\"} 1",
        "gateway_upstream_retries_total{upstream=\"mock\"} 1",
        "gateway_upstream_duration_seconds_bucket{upstream=\"mock\"",
    ] {
        assert!(text.contains(series), "missing {series} in\n{text}");
    }
}

#[tokio::test]
async fn an_open_gateway_serves_everyone_as_the_default_tenant() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    config.tenants.clear();
    let gw = start(config).await;
    let response = gw
        .http
        .post(gw.url("/v1/chat/completions"))
        .body(chat("open").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
