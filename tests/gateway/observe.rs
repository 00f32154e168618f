//! What an operator sees: every request — streams included, however they
//! end — is counted in the request metrics and logged once.

use std::time::Duration;

use mock_upstream::Fault;

use crate::support::*;

fn count(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn every_stream_is_counted_clean_cut_or_abandoned_by_its_client() {
    let mock = mock().await;
    let gw = start(config_for(&mock)).await;
    // A clean stream, passed through from the upstream.
    let mut clean = gw.post("/v1/chat/completions", &chat_stream("clean")).await;
    assert!(read_all(&mut clean).await.unwrap().contains("[DONE]"));
    // A stream the upstream cuts after its first chunks.
    mock.push_faults([Fault::CutStreamAfter(2)]);
    let mut cut = gw.post("/v1/chat/completions", &chat_stream("cut")).await;
    let _ = read_all(&mut cut).await;
    // A stream whose client goes away.
    mock.hold_streams();
    let mut gone = gw.post("/v1/chat/completions", &chat_stream("gone")).await;
    gone.chunk().await.unwrap().expect("first chunk");
    drop(gone);
    let series = "gateway_requests_total{route=\"chat_completions\",status=\"200\"}";
    let histogram = "gateway_request_duration_seconds_count{route=\"chat_completions\"}";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = gw.metrics().await;
        if count(&metrics, series) == 3.0 && count(&metrics, histogram) == 3.0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "streams not counted:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn upstream_cost_and_cache_savings_are_priced_per_tenant() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    config.prices.insert(
        "mock-*".into(),
        g_aigateway::config::Price {
            input: 1_000_000.0,
            output: 2_000_000.0,
        },
    );
    config.admin.key = Some(g_aigateway::config::Secret::new("admin"));
    let gw = start(config).await;
    let body = chat("price me please");
    let first: serde_json::Value = gw
        .post("/v1/chat/completions", &body)
        .await
        .json()
        .await
        .unwrap();
    let again = gw.post("/v1/chat/completions", &body).await;
    assert_eq!(again.headers()["x-gateway-cache"], "hit-l1");
    let saved_tokens: u64 = again.headers()["x-gateway-tokens-saved"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    again.text().await.unwrap();
    // At $1 per input token and $2 per output token, dollars = tokens.
    let usage = &first["usage"];
    let (prompt, completion) = (
        usage["prompt_tokens"].as_f64().unwrap(),
        usage["completion_tokens"].as_f64().unwrap(),
    );
    let dollars = prompt + 2.0 * completion;
    assert_eq!(saved_tokens as f64, prompt + completion);
    let metrics = gw.metrics().await;
    let cost = count(
        &metrics,
        "gateway_cost_usd_total{tenant=\"team-a\",model=\"mock-model\"}",
    );
    let saved = count(
        &metrics,
        "gateway_cost_saved_usd_total{tenant=\"team-a\",tier=\"l1\"}",
    );
    assert_eq!((cost, saved), (dollars, dollars), "{metrics}");
    let stats: serde_json::Value = gw
        .http
        .get(gw.url("/admin/stats"))
        .bearer_auth("admin")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        stats["costs"]["team-a"]["cost_usd"].as_f64(),
        Some(dollars),
        "{stats}"
    );
    assert_eq!(
        stats["costs"]["team-a"]["saved_usd"].as_f64(),
        Some(dollars)
    );
}
