//! Deployments, balancing, circuit breaking, concurrency limits and reloads,
//! against several mock upstreams with their own faults.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use g_aigateway::config::{
    Balancer, Config, DeploymentConfig, ModelDeployments, ModelTarget, Secret, UpstreamConfig,
};
use mock_upstream::{Fault, MockOptions, MockUpstream};
use serde_json::Value;

use crate::support::*;

const ADMIN: &str = "admin-key";

fn fault(status: u16) -> Fault {
    Fault::Status {
        status,
        retry_after: None,
    }
}

fn upstream(name: &str, mock: &MockUpstream) -> UpstreamConfig {
    UpstreamConfig {
        name: name.into(),
        base_url: mock.base_url(),
        api_keys: vec![Secret::new(format!("sk-{name}"))],
    }
}

/// `mock-model` served by deployments on `a` and `b` with these weights;
/// the cache off (every request goes upstream).
fn deployed(a: &MockUpstream, b: &MockUpstream, weights: (u32, u32), balancer: Balancer) -> Config {
    let mut config = config_for(a);
    config.upstreams = vec![upstream("a", a), upstream("b", b)];
    let deployment = |name: &str, weight| DeploymentConfig {
        weight,
        ..DeploymentConfig::on(name)
    };
    config.models.insert(
        "mock-model".into(),
        ModelTarget::Deployments(ModelDeployments {
            deployments: vec![deployment("a", weights.0), deployment("b", weights.1)],
            fallbacks: Vec::new(),
        }),
    );
    config.routing.balancer = balancer;
    config.cache.enabled = false;
    config.admin.key = Some(Secret::new(ADMIN));
    config
}

async fn mock_with(options: MockOptions) -> MockUpstream {
    MockUpstream::start(options).await.expect("mock starts")
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn a_provider_that_is_down_is_ejected_and_every_answer_comes_from_the_other() {
    let down = mock_with(MockOptions {
        error_rate: 1.0,
        ..MockOptions::default()
    })
    .await;
    let up = mock().await;
    // Weighted draws send it half the traffic until the breaker acts (P2C
    // would mostly avoid it by latency alone).
    let gw = start(deployed(&down, &up, (1, 1), Balancer::Weighted)).await;
    for i in 0..40 {
        let response = gw
            .post("/v1/chat/completions", &chat(&format!("q{i}")))
            .await;
        assert_eq!(response.status(), 200, "request {i}");
        assert_eq!(header(&response, "x-gateway-upstream"), "b");
        assert_eq!(header(&response, "x-gateway-model"), "mock-model");
    }
    // Five failures in a row eject it; it is not tried again within the
    // ejection (5 s by default).
    assert_eq!(down.requests(), 5, "tried until ejected, then left alone");
    assert_eq!(up.requests(), 40);
    let metrics = gw.metrics().await;
    for series in [
        r#"gateway_upstream_ejections_total{model="mock-model",deployment="a"} 1"#,
        r#"gateway_upstream_health{model="mock-model",deployment="a"} 0"#,
        r#"gateway_upstream_choices_total{model="mock-model",deployment="b"} 40"#,
        r#"gateway_upstream_health{model="mock-model",deployment="b"} 1"#,
    ] {
        assert!(metrics.contains(series), "{series}\n{metrics}");
    }
    // The operator's view: which deployment is out.
    let stats: Value = gw
        .http
        .get(gw.url("/admin/stats"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .expect("gateway")
        .json()
        .await
        .expect("json");
    let health = |label: &str| {
        stats["upstreams"]
            .as_array()
            .and_then(|all| {
                all.iter()
                    .find(|d| d["model"] == "mock-model" && d["deployment"] == label)
            })
            .map(|d| d["health"].clone())
    };
    assert_eq!(health("a"), Some("open".into()), "{stats}");
    assert_eq!(health("b"), Some("closed".into()), "{stats}");
}

#[tokio::test]
async fn a_flapping_provider_is_ejected_and_readmitted_through_half_open_probes() {
    let (a, b) = (mock().await, mock().await);
    // `a` takes nearly all the traffic while healthy.
    let mut config = deployed(&a, &b, (1000, 1), Balancer::Weighted);
    config.routing.breaker.consecutive_failures = 2;
    config.routing.breaker.eject_secs = 1;
    config.routing.breaker.max_eject_secs = 10;
    let gw = start(config).await;
    let ask = async |i: u32| {
        gw.post("/v1/chat/completions", &chat(&format!("flap {i}")))
            .await
    };
    let mut i = 0;
    // Two failures: ejected (both requests still answered, by `b`).
    a.push_faults([fault(503), fault(503)]);
    while a.requests() < 2 {
        i += 1;
        assert_eq!(ask(i).await.status(), 200);
    }
    let ejected_at = Instant::now();
    let seen = a.requests();
    // While ejected, `b` answers everything.
    for _ in 0..5 {
        i += 1;
        let response = ask(i).await;
        assert_eq!(response.status(), 200);
        if ejected_at.elapsed() < Duration::from_millis(900) {
            assert_eq!(header(&response, "x-gateway-upstream"), "b");
        }
    }
    // The first probe after the ejection fails: ejected again, for longer.
    a.push_faults([fault(503)]);
    let probe = async {
        while a.requests() == seen {
            i += 1;
            assert_eq!(ask(i).await.status(), 200);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(WAIT, probe)
        .await
        .expect("a half-open probe is sent");
    assert!(
        ejected_at.elapsed() >= Duration::from_millis(900),
        "not before the ejection ends"
    );
    let metrics = gw.metrics().await;
    assert!(
        metrics
            .contains(r#"gateway_upstream_ejections_total{model="mock-model",deployment="a"} 2"#),
        "{metrics}"
    );
    // The next probe (after 2 s) succeeds: `a` is back and takes the traffic.
    let seen = a.requests();
    let readmitted = async {
        loop {
            i += 1;
            let response = ask(i).await;
            assert_eq!(response.status(), 200);
            if header(&response, "x-gateway-upstream") == "a" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(WAIT, readmitted)
        .await
        .expect("readmitted");
    assert_eq!(a.requests(), seen + 1);
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains(r#"gateway_upstream_health{model="mock-model",deployment="a"} 1"#),
        "{metrics}"
    );
    let mut to_a = 0;
    for _ in 0..20 {
        i += 1;
        let response = ask(i).await;
        to_a += usize::from(header(&response, "x-gateway-upstream") == "a");
    }
    assert!(to_a >= 18, "healthy again, `a` takes its share: {to_a}/20");
}

/// `mock-model` on `primary`, falling back to `backup-model` on `backup`.
fn with_backup(primary: &MockUpstream, backup: &MockUpstream) -> Config {
    let mut config = config_for(primary);
    config.upstreams.push(upstream("backup", backup));
    config.models.insert(
        "mock-model".into(),
        ModelTarget::Deployments(ModelDeployments {
            deployments: vec![DeploymentConfig::on("mock")],
            fallbacks: vec!["backup-model".into()],
        }),
    );
    config.models.insert("backup-model".into(), "backup".into());
    config
}

#[tokio::test]
async fn a_stream_that_breaks_before_its_first_byte_falls_back_and_one_that_breaks_after_does_not()
{
    // Chunks 20 ms apart: a cut after the first chunk comes after the
    // gateway has read it (a cut right behind it can discard it in transit).
    let primary = mock_with(MockOptions {
        chunk_delay: Duration::from_millis(20),
        ..MockOptions::default()
    })
    .await;
    let backup = mock().await;
    let gw = start(with_backup(&primary, &backup)).await;
    // Every attempt on the primary breaks before its first byte.
    primary.push_faults([
        Fault::CutStreamAfter(0),
        Fault::CutStreamAfter(0),
        Fault::CutStreamAfter(0),
    ]);
    let mut response = gw
        .post("/v1/chat/completions", &chat_stream("early break"))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "x-gateway-fallback-model"),
        "backup-model"
    );
    assert_eq!(header(&response, "x-gateway-upstream"), "backup");
    let text = read_all(&mut response).await.expect("a whole stream");
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    assert!(!content_of_sse(&text).is_empty(), "{text}");
    assert_eq!((primary.requests(), backup.requests()), (3, 1));
    // A stream that broke after its first chunk reached the client is not
    // replaced by another model's: the client sees it cut, with an error.
    primary.push_faults([Fault::CutStreamAfter(2)]);
    let mut response = gw
        .post(
            "/v1/chat/completions",
            &chat_stream("late break, longer answer"),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("x-gateway-fallback-model").is_none());
    let text = read_all(&mut response).await.unwrap_or_default();
    assert!(!text.contains("[DONE]"), "{text}");
    assert_eq!(backup.requests(), 1, "no fallback after the first byte");
}

#[tokio::test]
async fn a_fallback_answer_is_cached_under_the_requested_model_only_when_allowed() {
    let (primary, backup) = (mock().await, mock().await);
    let mut config = with_backup(&primary, &backup);
    config.routing.cache_fallbacks = true;
    let gw = start(config).await;
    primary.push_faults([fault(503), fault(503), fault(503)]);
    let first = gw.post("/v1/chat/completions", &chat("cache me")).await;
    assert_eq!(header(&first, "x-gateway-fallback-model"), "backup-model");
    let again = gw.post("/v1/chat/completions", &chat("cache me")).await;
    assert_eq!(again.status(), 200);
    assert_eq!(header(&again, "x-gateway-cache"), "hit-l1");
    assert_eq!((primary.requests(), backup.requests()), (3, 1));
}

#[tokio::test]
async fn a_deployment_gets_its_own_model_name_and_the_answer_says_where_it_was_served() {
    let (a, b) = (mock().await, mock().await);
    let mut config = deployed(&a, &b, (1, 1), Balancer::Weighted);
    config.models.insert(
        "mock-model".into(),
        ModelTarget::Deployments(ModelDeployments {
            deployments: vec![DeploymentConfig {
                model: Some("provider-name-2024".into()),
                ..DeploymentConfig::on("b")
            }],
            fallbacks: Vec::new(),
        }),
    );
    let gw = start(config).await;
    let response = gw.post("/v1/chat/completions", &chat("renamed")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-gateway-upstream"), "b");
    assert_eq!(header(&response, "x-gateway-model"), "provider-name-2024");
    assert_eq!(b.bodies()[0]["model"], "provider-name-2024");
    assert_eq!(b.bodies()[0]["messages"][0]["content"], "renamed");
    assert_eq!(a.requests(), 0);
}

#[tokio::test]
async fn weights_are_respected() {
    let (a, b) = (mock().await, mock().await);
    let gw = start(deployed(&a, &b, (3, 1), Balancer::Weighted)).await;
    let n = 400;
    for i in 0..n {
        let response = gw
            .post("/v1/chat/completions", &chat(&format!("w{i}")))
            .await;
        assert_eq!(response.status(), 200);
    }
    let share = a.requests() as f64 / n as f64;
    // 3:1 → 0.75; 400 draws put 0.75 ± 0.065 at about three sigma.
    assert!((share - 0.75).abs() < 0.065, "share of a: {share}");
    assert_eq!(a.requests() + b.requests(), n);
}

#[tokio::test]
async fn power_of_two_choices_sends_less_to_a_slow_deployment() {
    let slow = mock_with(MockOptions {
        latency: Duration::from_millis(60),
        ..MockOptions::default()
    })
    .await;
    let fast = mock().await;
    let gw = Arc::new(start(deployed(&slow, &fast, (1, 1), Balancer::P2c)).await);
    let next = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (gw, next) = (Arc::clone(&gw), Arc::clone(&next));
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= 200 {
                        return;
                    }
                    let response = gw
                        .post("/v1/chat/completions", &chat(&format!("p{i}")))
                        .await;
                    assert_eq!(response.status(), 200);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("worker");
    }
    let share = slow.requests() as f64 / 200.0;
    // A weighted draw alone would send it half.
    assert!(share < 0.25, "share of the slow deployment: {share}");
}

#[tokio::test]
async fn a_tenant_over_its_concurrency_limit_waits_briefly_then_gets_429() {
    let upstream = mock().await;
    let mut config = config_for(&upstream);
    config.tenants[0].limits.max_in_flight = Some(1);
    config.routing.queue_timeout_ms = 50;
    config.cache.enabled = false;
    let gw = Arc::new(start(config).await);
    upstream.hold_streams();
    let mut held = gw.post("/v1/chat/completions", &chat_stream("held")).await;
    assert_eq!(held.status(), 200);
    let refused = gw.post("/v1/chat/completions", &chat("second")).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");
    assert_eq!(error_code(refused).await, "concurrency_limit");
    // Another tenant is not held back.
    let other = gw
        .http
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(KEY_B)
        .json(&chat("other tenant"))
        .send()
        .await
        .expect("gateway");
    assert_eq!(other.status(), 200);
    // The held stream ends; its slot is free again.
    upstream.release_streams(1);
    let text = read_all(&mut held).await.expect("stream");
    assert!(text.contains("[DONE]"));
    let after = gw.post("/v1/chat/completions", &chat("third")).await;
    assert_eq!(after.status(), 200);
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains(r#"gateway_concurrency_rejected_total{scope="tenant"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_full_deployment_sends_the_request_to_another_one() {
    let (a, b) = (mock().await, mock().await);
    let mut config = deployed(&a, &b, (1000, 1), Balancer::Weighted);
    if let Some(ModelTarget::Deployments(table)) = config.models.get_mut("mock-model") {
        table.deployments[0].max_in_flight = Some(1);
    }
    let gw = start(config).await;
    a.hold_streams();
    // Weights 1000:1 send nearly every request to `a`; a draw that lands on
    // `b` (about one in a thousand) is read to its end and tried again.
    let mut held = loop {
        let mut response = gw.post("/v1/chat/completions", &chat_stream("on a")).await;
        assert_eq!(response.status(), 200);
        if header(&response, "x-gateway-upstream") == "a" {
            break response;
        }
        read_all(&mut response).await.expect("stream from b");
    };
    for i in 0..3 {
        let response = gw
            .post("/v1/chat/completions", &chat(&format!("b{i}")))
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "x-gateway-upstream"), "b", "a is full");
    }
    a.release_streams(1);
    read_all(&mut held).await.expect("stream");
    // Its slot frees as the stream's end is dropped: then `a` serves again.
    let again = async {
        for i in 0.. {
            let response = gw
                .post("/v1/chat/completions", &chat(&format!("a{i}")))
                .await;
            assert_eq!(response.status(), 200);
            if header(&response, "x-gateway-upstream") == "a" {
                return;
            }
        }
    };
    tokio::time::timeout(WAIT, again)
        .await
        .expect("a serves again");
}

/// A config file naming which upstream serves `mock-model`.
fn write_config(path: &std::path::Path, a: &MockUpstream, b: &MockUpstream, serving: &str) {
    let text = format!(
        r#"
[[upstreams]]
name = "a"
base_url = "{}"
[[upstreams]]
name = "b"
base_url = "{}"

[models]
"mock-model" = "{serving}"

[[tenants]]
name = "team-a"
api_keys = ["{KEY_A}"]

[cache]
enabled = false

[admin]
key = "{ADMIN}"

[prices]
"mock-model" = {{ input = 1.0, output = 2.0 }}
"#,
        a.base_url(),
        b.base_url()
    );
    std::fs::write(path, text).expect("write config");
}

#[tokio::test]
async fn a_reload_changes_routing_under_load_without_a_failed_request() {
    let (a, b) = (mock().await, mock().await);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("gateway.toml");
    write_config(&path, &a, &b, "a");
    let env = g_aigateway::config::Env::default();
    let load = {
        let path = path.clone();
        move || Config::load(Some(&path), &env)
    };
    let config = load().expect("valid");
    let gw = Arc::new(start_reloadable(config, Arc::new(load)).await);
    let reload = || async {
        gw.http
            .post(gw.url("/admin/reload"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .expect("gateway")
    };
    let stop = tokio_util::sync::CancellationToken::new();
    let failed = Arc::new(AtomicU64::new(0));
    let served_by_b = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (gw, stop) = (Arc::clone(&gw), stop.clone());
            let (failed, served_by_b) = (Arc::clone(&failed), Arc::clone(&served_by_b));
            tokio::spawn(async move {
                let mut i = 0;
                while !stop.is_cancelled() {
                    i += 1;
                    let body = if i % 3 == 0 {
                        chat_stream(&format!("load {w} {i}"))
                    } else {
                        chat(&format!("load {w} {i}"))
                    };
                    let mut response = gw.post("/v1/chat/completions", &body).await;
                    let by_b = header(&response, "x-gateway-upstream") == "b";
                    let ok = response.status() == 200
                        && read_all(&mut response)
                            .await
                            .is_ok_and(|t| !t.contains("\"error\""));
                    if !ok {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    if by_b {
                        served_by_b.fetch_add(1, Ordering::Relaxed);
                    }
                }
                i
            })
        })
        .collect();
    // Load is running on `a`.
    let on_a = async {
        while a.requests() < 20 {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(WAIT, on_a)
        .await
        .expect("load reaches a");
    // An invalid file is refused with its reason; routing stays on `a`.
    std::fs::write(&path, "[models]\n\"mock-model\" = \"nowhere\"\n").expect("write");
    let refused = reload().await;
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.expect("json");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("nowhere"), "{message}");
    // The valid new file moves the model to `b`.
    write_config(&path, &a, &b, "b");
    let applied = reload().await;
    assert_eq!(applied.status(), 200);
    let body: Value = applied.json().await.expect("json");
    assert_eq!(body["reloaded"], true, "{body}");
    let on_b = async {
        while served_by_b.load(Ordering::Relaxed) < 20 {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(WAIT, on_b)
        .await
        .expect("load moves to b");
    let a_after = a.requests();
    let more_on_b = async {
        let start = b.requests();
        while b.requests() < start + 20 {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(WAIT, more_on_b)
        .await
        .expect("b keeps serving");
    stop.cancel();
    let mut total = 0;
    for worker in workers {
        total += worker.await.expect("worker");
    }
    assert_eq!(failed.load(Ordering::Relaxed), 0, "of {total} requests");
    assert!(
        a.requests() <= a_after + 4,
        "at most the requests in flight went to a after"
    );
    let metrics = gw.metrics().await;
    for series in [
        r#"gateway_config_reloads_total{result="applied"} 1"#,
        r#"gateway_config_reloads_total{result="refused"} 1"#,
    ] {
        assert!(metrics.contains(series), "{series}\n{metrics}");
    }
}

#[tokio::test]
async fn an_active_probe_readmits_an_ejected_deployment_before_its_back_off_ends() {
    let (a, b) = (mock().await, mock().await);
    let mut config = deployed(&a, &b, (1000, 1), Balancer::Weighted);
    config.routing.breaker.consecutive_failures = 2;
    // Without probes, `a` would stay out for a minute.
    config.routing.breaker.eject_secs = 60;
    config.routing.breaker.max_eject_secs = 60;
    config.routing.probe_interval_secs = 1;
    let gw = start(config).await;
    a.push_faults([fault(503), fault(503)]);
    let mut i = 0;
    while a.requests() < 2 {
        i += 1;
        let response = gw
            .post("/v1/chat/completions", &chat(&format!("x{i}")))
            .await;
        assert_eq!(response.status(), 200);
    }
    let ejected = Instant::now();
    let back = async {
        loop {
            i += 1;
            let response = gw
                .post("/v1/chat/completions", &chat(&format!("x{i}")))
                .await;
            if header(&response, "x-gateway-upstream") == "a" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(WAIT, back)
        .await
        .expect("a probe readmits a");
    assert!(ejected.elapsed() < Duration::from_secs(60));
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains(
            r#"gateway_upstream_probes_total{model="mock-model",deployment="a",result="ok"}"#
        ),
        "{metrics}"
    );
}
