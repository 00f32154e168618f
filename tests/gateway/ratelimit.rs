//! Rate limits over real HTTP against a real Redis (and without it).

use std::sync::Arc;
use std::time::Duration;

use g_aigateway::config::{Config, Secret, TenantLimits};
use serde_json::{Value, json};

use crate::redis::RedisServer;
use crate::support::*;

fn requests(per_minute: u32, burst: u32) -> TenantLimits {
    TenantLimits {
        requests_per_minute: Some(per_minute),
        request_burst: Some(burst),
        ..TenantLimits::default()
    }
}

/// Both tenants limited alike; Redis when given.
fn limited(
    mock: &mock_upstream::MockUpstream,
    limits: TenantLimits,
    redis: Option<&RedisServer>,
) -> Config {
    let mut config = config_for(mock);
    for tenant in &mut config.tenants {
        tenant.limits = limits.clone();
    }
    config.redis.url = redis.map(|r| Secret::new(r.url()));
    config.rate_limit.redis_retry_ms = 100;
    config
}

async fn send_as(gw: &TestGateway, key: &str, body: &Value) -> reqwest::Response {
    gw.http
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(key)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// Sends `n` distinct requests concurrently, spread over `gateways`; returns
/// (admitted, refused) and asserts nothing else came back.
async fn burst(
    gateways: &[Arc<TestGateway>],
    key: &'static str,
    n: usize,
    tag: &str,
) -> (usize, usize) {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let gw = Arc::clone(&gateways[i % gateways.len()]);
            let body = chat(&format!("{tag} {i}"));
            tokio::spawn(async move { send_as(&gw, key, &body).await.status().as_u16() })
        })
        .collect();
    let mut counts = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            200 => counts.0 += 1,
            429 => counts.1 += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    counts
}

#[tokio::test]
async fn a_burst_is_admitted_exactly_and_the_next_is_refused_with_retry_after() {
    let redis = RedisServer::start();
    let mock = mock().await;
    let gw = start(limited(&mock, requests(6, 5), Some(&redis))).await;
    for i in 0..5 {
        let response = send_as(&gw, KEY_A, &chat(&format!("burst {i}"))).await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "x-ratelimit-limit-requests"), "6");
        assert_eq!(
            header(&response, "x-ratelimit-remaining-requests"),
            (4 - i).to_string()
        );
    }
    let refused = send_as(&gw, KEY_A, &chat("one more")).await;
    assert_eq!(refused.status(), 429);
    // One request every 10 s: the next slot opens in 10 s.
    assert_eq!(header(&refused, "retry-after"), "10");
    assert_eq!(header(&refused, "x-ratelimit-remaining-requests"), "0");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert_eq!(body["error"]["type"], "requests");
    assert_eq!(
        mock.requests(),
        5,
        "a refused request never reaches the upstream"
    );
    let metrics = gw.metrics().await;
    assert!(metrics.contains("gateway_ratelimit_decisions_total{result=\"deny\",limit=\"requests\",source=\"redis\"} 1"), "{metrics}");
    assert!(metrics.contains("gateway_ratelimit_decisions_total{result=\"allow\",limit=\"requests\",source=\"redis\"} 5"), "{metrics}");
}

#[tokio::test]
async fn admission_resumes_after_the_emission_interval() {
    let redis = RedisServer::start();
    let mock = mock().await;
    // 600 a minute: one every 100 ms, burst 1.
    let gw = start(limited(&mock, requests(600, 1), Some(&redis))).await;
    assert_eq!(send_as(&gw, KEY_A, &chat("r1")).await.status(), 200);
    let refused = send_as(&gw, KEY_A, &chat("r2")).await;
    assert_eq!(refused.status(), 429);
    let reset = header(&refused, "x-ratelimit-reset-requests");
    assert!(reset.ends_with("ms"), "{reset}");
    // The limiter's clock is Redis TIME: let one interval pass for real.
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(send_as(&gw, KEY_A, &chat("r3")).await.status(), 200);
}

#[tokio::test]
async fn three_gateways_sharing_redis_admit_no_more_than_the_limit_in_total() {
    let redis = RedisServer::start();
    let mock = mock().await;
    // One request every 10 s, burst 10: the whole burst fits in the test.
    let config = limited(&mock, requests(6, 10), Some(&redis));
    let mut gateways = Vec::new();
    for _ in 0..3 {
        gateways.push(Arc::new(start(config.clone()).await));
    }
    let (admitted, refused) = burst(&gateways, KEY_A, 30, "cluster").await;
    assert_eq!((admitted, refused), (10, 20));
    // The same burst against one instance (another tenant) admits the same count.
    let (admitted, refused) = burst(&gateways[..1], KEY_B, 30, "single").await;
    assert_eq!((admitted, refused), (10, 20));
}

#[tokio::test]
async fn tenants_are_limited_independently() {
    let redis = RedisServer::start();
    let mock = mock().await;
    let gw = start(limited(&mock, requests(6, 2), Some(&redis))).await;
    let gw = [Arc::new(gw)];
    assert_eq!(burst(&gw, KEY_A, 4, "a").await, (2, 2));
    assert_eq!(burst(&gw, KEY_B, 4, "b").await, (2, 2));
}

/// Seconds the tenant's token TAT lies ahead of Redis TIME (0 when idle):
/// how many tokens at one a second are still charged.
async fn tokens_charged(redis: &RedisServer) -> f64 {
    let mut connection = redis.client().await;
    let tat: Option<String> = redis::cmd("GET")
        .arg("gw:{rl:team-a}:tok")
        .query_async(&mut connection)
        .await
        .unwrap();
    let time: Vec<String> = redis::cmd("TIME")
        .query_async(&mut connection)
        .await
        .unwrap();
    let now = time[0].parse::<f64>().unwrap() * 1e6 + time[1].parse::<f64>().unwrap();
    let tat = tat.and_then(|v| v.parse::<f64>().ok()).unwrap_or(now);
    ((tat - now) / 1e6).max(0.0)
}

/// Waits until at most `tokens` remain charged (the estimate was reconciled).
async fn until_charged_at_most(redis: &RedisServer, tokens: f64) {
    let reconciled = tokio::time::timeout(WAIT, async {
        while tokens_charged(redis).await > tokens {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(
        reconciled.is_ok(),
        "the token estimate was never reconciled"
    );
}

#[tokio::test]
async fn tokens_are_reconciled_with_real_usage_from_json_and_streams() {
    let redis = RedisServer::start();
    let mock = mock().await;
    // One token a second, burst 1000. Each request is estimated at 507 tokens
    // (max_tokens 500 + prompt) and really costs 7 (the mock's usage): two
    // estimates do not fit together, so the second request is admitted only
    // if the first was reconciled.
    let limits = TenantLimits {
        tokens_per_minute: Some(60),
        token_burst: Some(1000),
        ..TenantLimits::default()
    };
    let gw = start(limited(&mock, limits, Some(&redis))).await;
    let ask = |content: &str, stream: bool| {
        let mut body = json!({"model": "mock-model", "max_tokens": 500,
            "messages": [{"role": "user", "content": content}]});
        if stream {
            body["stream"] = json!(true);
            body["stream_options"] = json!({"include_usage": true});
        }
        body
    };
    let first = send_as(&gw, KEY_A, &ask("tok one", false)).await;
    assert_eq!(first.status(), 200);
    assert_eq!(header(&first, "x-ratelimit-remaining-tokens"), "493");
    first.text().await.unwrap();
    until_charged_at_most(&redis, 8.0).await;

    let mut second = send_as(&gw, KEY_A, &ask("tok two", true)).await;
    assert_eq!(second.status(), 200);
    let remaining: i64 = header(&second, "x-ratelimit-remaining-tokens")
        .parse()
        .unwrap();
    // 1000 - 7 (first, reconciled) - 507 (second, estimated), plus refill.
    assert!((486..=489).contains(&remaining), "{remaining}");
    assert!(read_all(&mut second).await.unwrap().contains("\"usage\""));
    // The streamed usage chunk reconciles the second request too.
    until_charged_at_most(&redis, 15.0).await;
    assert_eq!(
        send_as(&gw, KEY_A, &ask("tok three", false)).await.status(),
        200
    );
}

#[tokio::test]
async fn with_redis_down_local_limits_apply_without_5xx_and_redis_limits_resume() {
    let mut redis = RedisServer::start();
    let port = redis.port;
    let mock = mock().await;
    let gw = start(limited(&mock, requests(6, 3), Some(&redis))).await;
    assert_eq!(send_as(&gw, KEY_A, &chat("before")).await.status(), 200);
    redis.kill();
    let gw = [Arc::new(gw)];
    // The local share (3 with one node) holds; nothing becomes a 5xx.
    assert_eq!(burst(&gw, KEY_A, 6, "down").await, (3, 3));
    let metrics = gw[0].metrics().await;
    assert!(
        metrics.contains("result=\"deny\",limit=\"requests\",source=\"local\""),
        "{metrics}"
    );

    let _redis = RedisServer::start_on(port);
    let resumed = tokio::time::timeout(WAIT, async {
        loop {
            let status = send_as(&gw[0], KEY_B, &chat("after")).await.status();
            assert!(status == 200 || status == 429, "{status}");
            let metrics = gw[0].metrics().await;
            if metrics.contains("result=\"allow\",limit=\"requests\",source=\"redis\"} 2") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(resumed.is_ok(), "Redis limiting did not resume");
}

#[tokio::test]
async fn the_script_is_reloaded_after_script_flush() {
    let redis = RedisServer::start();
    let mock = mock().await;
    let gw = start(limited(&mock, requests(600, 100), Some(&redis))).await;
    assert_eq!(send_as(&gw, KEY_A, &chat("s1")).await.status(), 200);
    let mut connection = redis.client().await;
    let () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(send_as(&gw, KEY_A, &chat("s2")).await.status(), 200);
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("result=\"allow\",limit=\"requests\",source=\"redis\"} 2"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("gateway_redis_errors_total{op=\"ratelimit\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn without_redis_the_local_limiter_applies() {
    let mock = mock().await;
    let gw = [Arc::new(start(limited(&mock, requests(6, 4), None)).await)];
    assert_eq!(burst(&gw, KEY_A, 6, "standalone").await, (4, 2));
}
