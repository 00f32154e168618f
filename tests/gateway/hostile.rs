//! Hostile clients against the real listener: slowloris headers, silent
//! connections, a flood past the connection cap, oversized heads, bodies that
//! trickle or decompress into bombs — the gateway closes or refuses them in
//! OpenAI's error shape and keeps answering everyone else.

use std::io::Write;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

use crate::support::*;

async fn healthz_in_time(gw: &TestGateway) {
    let started = Instant::now();
    let response = timeout(
        Duration::from_secs(5),
        gw.http.get(gw.url("/healthz")).send(),
    )
    .await
    .expect("healthz answers in time")
    .expect("healthz");
    assert_eq!(response.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// Reads until the peer closes; `Ok(bytes)` then, `Err` if still open at `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Result<Vec<u8>, ()> {
    let mut got = Vec::new();
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return Err(()),
            Ok(Ok(0)) | Ok(Err(_)) => return Ok(got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn slow_or_silent_connections_are_closed_after_the_header_timeout() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    config.server.header_read_timeout_secs = 1;
    let gw = start(config).await;
    healthz_in_time(&gw).await;
    let mut silent = TcpStream::connect(gw.addr).await.unwrap();
    let mut trickle = TcpStream::connect(gw.addr).await.unwrap();
    trickle
        .write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let dripping = tokio::spawn(async move {
        for _ in 0..20 {
            if trickle.write_all(b"X-A: b\r\n").await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        closed_within(&mut trickle, Duration::from_secs(2))
            .await
            .is_ok()
    });
    healthz_in_time(&gw).await;
    assert!(
        closed_within(&mut silent, Duration::from_secs(5))
            .await
            .is_ok(),
        "silent connection still open"
    );
    assert!(dripping.await.unwrap(), "trickling connection still open");
}

#[tokio::test]
async fn a_flood_past_the_connection_cap_waits_and_the_listener_keeps_serving() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    config.server.max_connections = 20;
    config.server.header_read_timeout_secs = 2;
    let gw = start(config).await;
    let mut idle = Vec::new();
    for _ in 0..60 {
        idle.push(TcpStream::connect(gw.addr).await.unwrap());
    }
    // At the cap: a new request waits for a slot, then is served once the
    // idle connections time out — nothing is refused or lost.
    let started = Instant::now();
    let response = timeout(
        Duration::from_secs(15),
        gw.post("/v1/chat/completions", &chat("hi")),
    )
    .await
    .expect("served after the flood drains");
    assert_eq!(response.status(), 200);
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "the cap held"
    );
    drop(idle);
    healthz_in_time(&gw).await;
}

#[tokio::test]
async fn oversized_heads_get_431_and_long_uris_414_as_openai_errors() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    config.server.max_header_bytes = 4096;
    let gw = start(config).await;
    let big = "x".repeat(8000);
    let response = gw
        .http
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(KEY_A)
        .header("x-padding", big)
        .body(chat("hi").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 431);
    assert_eq!(error_code(response).await, "headers_too_large");
    let path = format!("/v1/models?{}", "q".repeat(9000));
    let response = gw.http.get(gw.url(&path)).send().await.unwrap();
    assert_eq!(response.status(), 414);
    assert_eq!(error_code(response).await, "uri_too_long");
    assert_eq!(mock.requests(), 0);
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[tokio::test]
async fn compressed_bodies_are_decoded_and_bombs_refused() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    config.server.max_body_bytes = 1024 * 1024;
    let gw = start(config).await;
    let post = |body: Vec<u8>, coding: &'static str| {
        gw.http
            .post(gw.url("/v1/chat/completions"))
            .bearer_auth(KEY_A)
            .header("content-type", "application/json")
            .header("content-encoding", coding)
            .body(body)
            .send()
    };
    let response = post(
        gzip(chat("compressed hello").to_string().as_bytes()),
        "gzip",
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .contains("compressed hello")
    );
    // The upstream got the decoded body and no content-encoding.
    assert_eq!(
        mock.bodies()[0]["messages"][0]["content"],
        "compressed hello"
    );
    let bomb = gzip(&vec![b' '; 64 * 1024 * 1024]);
    let response = post(bomb, "gzip").await.unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(error_code(response).await, "request_too_large");
    let response = post(b"abc".to_vec(), "compress").await.unwrap();
    assert_eq!(response.status(), 415);
    assert_eq!(mock.requests(), 1);
}

#[tokio::test]
async fn a_body_that_trickles_in_gets_408() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    config.server.body_read_timeout_secs = 1;
    config.server.min_body_rate = 1024;
    let gw = start(config).await;
    let mut stream = TcpStream::connect(gw.addr).await.unwrap();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY_A}\r\n\
         Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{{"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let writer = tokio::spawn(async move {
        for _ in 0..40 {
            if stream.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut answer = Vec::new();
        let _ = timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
        answer
    });
    let answer = String::from_utf8_lossy(&writer.await.unwrap()).to_string();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    assert_eq!(mock.requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_huge_prompts_from_one_tenant_does_not_starve_another_tenants_l2() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    crate::semantic::with_l2(&mut config);
    // A budget with room for a slow, shared CI machine (the default 2 s was
    // missed on a machine also training a model); B's look-up must still come
    // within it while the flood is queued.
    config.embedding.timeout_ms = 5_000;
    // The flood's 32 MB go through the in-process mock on the same two
    // cores: on a loaded machine one attempt took over the harness's 5 s
    // (and 32 timeouts at once exceed the retry budget). What is asserted is
    // that the flood is answered, not how fast.
    config.retry.attempt_timeout_secs = 30;
    config.retry.deadline_secs = 60;
    let gw = start(config).await;
    let question = |text: &str| crate::semantic::question("s", text);
    let (cached, paraphrase) = ("How do I reset my password?", "how can I reset my password");
    assert_eq!(
        crate::semantic::ask(&gw, KEY_B, &question(cached), &[])
            .await
            .0,
        "miss"
    );
    // Tenant A: 32 distinct 1 MB prompts at once.
    let flood: Vec<_> = (0..32)
        .map(|i| {
            let http = gw.http.clone();
            let url = gw.url("/v1/chat/completions");
            let body =
                question(&format!("{i} {}", "lorem ipsum dolor ".repeat(60_000))).to_string();
            tokio::spawn(async move {
                let response = http.post(url).bearer_auth(KEY_A).body(body).send().await?;
                let status = response.status();
                let text = response.text().await?;
                Ok::<_, reqwest::Error>((status, text.chars().take(300).collect::<String>()))
            })
        })
        .collect();
    // Meanwhile tenant B's paraphrase is still answered from L2.
    let (label, _) = crate::semantic::ask(&gw, KEY_B, &question(paraphrase), &[]).await;
    let metrics = gw.metrics().await;
    let skipped: Vec<_> = metrics
        .lines()
        .filter(|l| l.contains("l2_skipped"))
        .collect();
    assert_eq!(label, "hit-l2", "{skipped:?}");
    for f in flood {
        let (status, text) = f.await.unwrap().unwrap();
        assert_eq!(status, 200, "the flood is answered, L2 or not: {text}");
    }
}
