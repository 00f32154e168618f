//! L1 exact cache over real HTTP, with a real Redis where the test needs one.

use std::sync::Arc;
use std::time::Duration;

use g_aigateway::config::{Secret, TenantCache};
use mock_upstream::Fault;
use serde_json::{Value, json};

use crate::redis::RedisServer;
use crate::support::*;

fn cache_header(response: &reqwest::Response) -> String {
    response.headers()["x-gateway-cache"]
        .to_str()
        .unwrap()
        .to_string()
}

async fn send_raw(
    gw: &TestGateway,
    key: &str,
    raw: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = gw
        .http
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(key)
        .body(raw.to_string());
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    request.send().await.unwrap()
}

/// Sends `body` as tenant A and returns (x-gateway-cache, body bytes).
async fn ask(gw: &TestGateway, body: &Value, headers: &[(&str, &str)]) -> (String, String) {
    let response = send_raw(gw, KEY_A, &body.to_string(), headers).await;
    assert_eq!(response.status(), 200);
    let label = cache_header(&response);
    (label, response.text().await.unwrap())
}

#[tokio::test]
async fn a_repeat_is_a_hit_with_the_upstreams_exact_bytes() {
    let mock = mock().await;
    let gw = start(config_for(&mock)).await;
    let (first, body1) = ask(&gw, &chat("What is Rust?"), &[]).await;
    let (second, body2) = ask(&gw, &chat("What is Rust?"), &[]).await;
    assert_eq!((first.as_str(), second.as_str()), ("miss", "hit-l1"));
    assert_eq!(body1, body2);
    assert_eq!(mock.requests(), 1);
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("gateway_cache_lookups_total{tier=\"l1_memory\",result=\"hit\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gateway_tokens_saved_total{kind=\"completion\"} 6"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gateway_cache_entries{tier=\"l1\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_json_equivalent_request_hits() {
    let mock = mock().await;
    let gw = start(config_for(&mock)).await;
    let a = r#"{"model":"mock-model","messages":[{"role":"user","content":"café?"}],"temperature":1.0}"#;
    let b = "{ \"temperature\" : 1,\n \"messages\":[{\"content\":\"caf\\u00e9?\",\"role\":\"user\"}], \"model\":\"mock-model\", \"user\":\"x\" }";
    assert_eq!(cache_header(&send_raw(&gw, KEY_A, a, &[]).await), "miss");
    assert_eq!(cache_header(&send_raw(&gw, KEY_A, b, &[]).await), "hit-l1");
}

#[tokio::test]
async fn changed_output_relevant_fields_miss() {
    let mock = mock().await;
    let gw = start(config_for(&mock)).await;
    let base = json!({"model": "mock-model", "temperature": 0.2, "messages": [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]});
    assert_eq!(ask(&gw, &base, &[]).await.0, "miss");
    let mut temperature = base.clone();
    temperature["temperature"] = json!(0.3);
    let mut tools = base.clone();
    tools["tools"] = json!([{"type": "function", "function": {"name": "f", "parameters": {}}}]);
    let mut system = base.clone();
    system["messages"][0]["content"] = json!("Be verbose.");
    for changed in [temperature, tools, system] {
        assert_eq!(ask(&gw, &changed, &[]).await.0, "miss", "{changed}");
    }
    assert_eq!(mock.requests(), 4);
}

#[tokio::test]
async fn a_tenant_never_hits_another_tenants_entry_unless_they_share_a_scope() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    let shared = TenantCache {
        shared_scope: Some("co".into()),
        ..TenantCache::default()
    };
    for tenant in &mut config.tenants {
        tenant.cache = shared.clone();
    }
    config.tenants.push(g_aigateway::config::TenantConfig {
        name: "team-c".into(),
        api_keys: vec![Secret::new("gw-key-team-c")],
        limits: Default::default(),
        cache: TenantCache::default(),
    });
    let gw = start(config).await;
    let body = chat("secret plans").to_string();
    assert_eq!(
        cache_header(&send_raw(&gw, KEY_A, &body, &[]).await),
        "miss"
    );
    // team-c has its own scope: no hit from team-a's entry.
    assert_eq!(
        cache_header(&send_raw(&gw, "gw-key-team-c", &body, &[]).await),
        "miss"
    );
    // team-b opted into team-a's shared scope.
    assert_eq!(
        cache_header(&send_raw(&gw, KEY_B, &body, &[]).await),
        "hit-l1"
    );
}

#[tokio::test]
async fn a_fill_on_one_gateway_is_a_hit_on_another_sharing_redis() {
    let redis = RedisServer::start();
    let mock = mock().await;
    let mut config = config_for(&mock);
    config.redis.url = Some(Secret::new(redis.url()));
    let (a, b) = (start(config.clone()).await, start(config).await);
    assert_eq!(ask(&a, &chat("shared?"), &[]).await.0, "miss");
    // The Redis write is asynchronous: wait for the key, not for a fixed time.
    let written = tokio::time::timeout(WAIT, async {
        while redis.keys("gw:l1:*").await.is_empty() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(written.is_ok(), "the fill never reached Redis");
    let (label, _) = ask(&b, &chat("shared?"), &[]).await;
    assert_eq!(label, "hit-l1");
    assert_eq!(mock.requests(), 1);
    let metrics = b.metrics().await;
    assert!(
        metrics.contains("gateway_cache_lookups_total{tier=\"l1_redis\",result=\"hit\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn concurrent_identical_misses_make_one_upstream_call() {
    const N: usize = 8;
    let mock = mock().await;
    mock.hold_streams();
    mock.push_faults([Fault::Hold]);
    let gw = Arc::new(start(config_for(&mock)).await);
    let requests: Vec<_> = (0..N)
        .map(|_| {
            let gw = Arc::clone(&gw);
            tokio::spawn(async move { ask(&gw, &chat("same question"), &[]).await })
        })
        .collect();
    // Release the leader's upstream answer only once every other request waits on it.
    until_waiting(&gw, N - 1).await;
    mock.release_streams(1);
    let mut bodies = Vec::new();
    for r in requests {
        let (label, body) = r.await.unwrap();
        assert_eq!(label, "miss");
        bodies.push(body);
    }
    assert_eq!(mock.requests(), 1, "exactly one upstream call");
    assert!(bodies.windows(2).all(|w| w[0] == w[1]));
}

/// Waits until the gateway reports `n` requests waiting on a flight.
async fn until_waiting(gw: &TestGateway, n: usize) {
    let want = format!("gateway_singleflight_waiting {n}\n");
    let joined = tokio::time::timeout(WAIT, async {
        while !gw.metrics().await.contains(&want) {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(joined.is_ok(), "never saw {n} single-flight waiters");
}

#[tokio::test]
async fn followers_share_the_leaders_error_which_is_not_cached() {
    let mock = mock().await;
    mock.hold_streams();
    mock.push_faults([Fault::HoldThenStatus(503)]);
    let mut config = config_for(&mock);
    config.retry.max_attempts = 1;
    let gw = Arc::new(start(config).await);
    let spawn = |gw: &Arc<TestGateway>| {
        let gw = Arc::clone(gw);
        tokio::spawn(async move {
            let response = send_raw(&gw, KEY_A, &chat("q").to_string(), &[]).await;
            (response.status(), response.text().await.unwrap())
        })
    };
    let leader = spawn(&gw);
    let follower = spawn(&gw);
    until_waiting(&gw, 1).await;
    mock.release_streams(1);
    let (leader, follower) = (leader.await.unwrap(), follower.await.unwrap());
    assert_eq!(leader.0, 502);
    assert_eq!(follower, leader, "the follower gets the leader's error");
    assert_eq!(mock.requests(), 1);
    // The error was not cached: the next request goes upstream and succeeds.
    assert_eq!(ask(&gw, &chat("q"), &[]).await.0, "miss");
    assert_eq!(mock.requests(), 2);
}

#[tokio::test]
async fn a_cut_stream_is_never_cached() {
    let mock = mock().await;
    mock.hold_streams();
    mock.push_faults([Fault::CutStreamAfter(2)]);
    let gw = start(config_for(&mock)).await;
    let mut response = gw.post("/v1/chat/completions", &chat_stream("cut")).await;
    response.chunk().await.unwrap().expect("first chunk");
    mock.release_streams(1);
    let cut = read_all(&mut response).await.unwrap();
    assert!(
        cut.contains("\"error\"") && !cut.contains("[DONE]"),
        "{cut}"
    );
    mock.release_streams(1);
    let mut again = gw.post("/v1/chat/completions", &chat_stream("cut")).await;
    assert_eq!(cache_header(&again), "miss");
    assert!(read_all(&mut again).await.unwrap().contains("[DONE]"));
    assert_eq!(mock.requests(), 2);
}

#[tokio::test]
async fn a_json_capture_serves_sse_and_a_stream_capture_serves_json() {
    let mock = mock().await;
    let gw = start(config_for(&mock)).await;
    // JSON first, then a streaming request for the same question.
    let (label, json_body) = ask(&gw, &chat("cross one"), &[]).await;
    assert_eq!(label, "miss");
    let mut streamed = chat_stream("cross one");
    streamed["stream_options"] = json!({"include_usage": true});
    let (label, sse) = ask(&gw, &streamed, &[]).await;
    assert_eq!(label, "hit-l1");
    assert!(sse.trim_end().ends_with("data: [DONE]"));
    let json: Value = serde_json::from_str(&json_body).unwrap();
    assert_eq!(
        content_of_sse(&sse),
        json["choices"][0]["message"]["content"]
    );
    assert!(sse.contains("\"usage\""), "include_usage asked for: {sse}");

    // Stream first, then JSON.
    let (label, sse) = ask(&gw, &chat_stream("cross two"), &[]).await;
    assert_eq!(label, "miss");
    let (label, json_body) = ask(&gw, &chat("cross two"), &[]).await;
    assert_eq!(label, "hit-l1");
    let json: Value = serde_json::from_str(&json_body).unwrap();
    assert_eq!(json["object"], "chat.completion");
    assert_eq!(
        json["choices"][0]["message"]["content"],
        content_of_sse(&sse)
    );
    assert_eq!(mock.requests(), 2);
}

#[tokio::test]
async fn no_cache_skips_the_lookup_but_stores_and_no_store_does_not_store() {
    let mock = mock().await;
    let gw = start(config_for(&mock)).await;
    assert_eq!(ask(&gw, &chat("nc"), &[]).await.0, "miss");
    assert_eq!(
        ask(&gw, &chat("nc"), &[("cache-control", "no-cache")])
            .await
            .0,
        "bypass"
    );
    assert_eq!(mock.requests(), 2);
    assert_eq!(
        ask(&gw, &chat("ns"), &[("cache-control", "no-store")])
            .await
            .0,
        "miss"
    );
    assert_eq!(ask(&gw, &chat("ns"), &[]).await.0, "miss");
    assert_eq!(ask(&gw, &chat("ns"), &[]).await.0, "hit-l1");
    assert_eq!(mock.requests(), 4);
    // no-cache still stores.
    assert_eq!(
        ask(&gw, &chat("fresh"), &[("cache-control", "no-cache")])
            .await
            .0,
        "bypass"
    );
    assert_eq!(ask(&gw, &chat("fresh"), &[]).await.0, "hit-l1");
}

#[tokio::test]
async fn an_entry_expires_after_its_ttl_in_memory_and_in_redis() {
    let redis = RedisServer::start();
    let mock = mock().await;
    let mut config = config_for(&mock);
    config.redis.url = Some(Secret::new(redis.url()));
    let gw = start(config).await;
    let ttl = [("x-gateway-cache-ttl", "1")];
    assert_eq!(ask(&gw, &chat("short-lived"), &ttl).await.0, "miss");
    let stored_at = tokio::time::Instant::now();
    assert_eq!(ask(&gw, &chat("short-lived"), &[]).await.0, "hit-l1");
    // TTLs are wall-clock: wait until the entry's lifetime has passed.
    tokio::time::sleep_until(stored_at + Duration::from_millis(1100)).await;
    assert_eq!(ask(&gw, &chat("short-lived"), &[]).await.0, "miss");
    let response = send_raw(
        &gw,
        KEY_A,
        &chat("x").to_string(),
        &[("x-gateway-cache-ttl", "soon")],
    )
    .await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn with_redis_killed_requests_still_succeed_from_memory_or_upstream() {
    let mut redis = RedisServer::start();
    let mock = mock().await;
    let mut config = config_for(&mock);
    config.redis.url = Some(Secret::new(redis.url()));
    let gw = start(config).await;
    assert_eq!(ask(&gw, &chat("before"), &[]).await.0, "miss");
    redis.kill();
    assert_eq!(ask(&gw, &chat("before"), &[]).await.0, "hit-l1");
    for i in 0..5 {
        let (label, _) = ask(&gw, &chat(&format!("during {i}")), &[]).await;
        assert_eq!(label, "miss");
    }
    assert_eq!(ask(&gw, &chat("during 0"), &[]).await.0, "hit-l1");
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("gateway_redis_errors_total{op=\"l1_get\"}"),
        "{metrics}"
    );
    assert_eq!(gw.readyz().await["redis"], "down");
}
