//! L2 semantic cache over real HTTP with the real local model
//! (all-MiniLM-L6-v2; `bash scripts/fetch-model.sh` fetches it).

use std::path::PathBuf;

use g_aigateway::config::{Config, EmbedderKind, Secret, UpstreamConfig};
use serde_json::{Value, json};

use crate::support::*;

pub fn model_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/all-MiniLM-L6-v2");
    assert!(
        dir.join("model.safetensors").is_file(),
        "the L2 tests need the local model in {}: run `bash scripts/fetch-model.sh` \
         (the README's test command does)",
        dir.display()
    );
    dir
}

pub fn with_l2(config: &mut Config) {
    config.embedding.kind = EmbedderKind::Local;
    config.embedding.model_dir = model_dir();
}

pub async fn ask(
    gw: &TestGateway,
    key: &str,
    body: &Value,
    headers: &[(&str, &str)],
) -> (String, Option<f32>) {
    let mut request = gw
        .http
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(key)
        .body(body.to_string());
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let label = response.headers()["x-gateway-cache"]
        .to_str()
        .unwrap()
        .to_string();
    let similarity = response
        .headers()
        .get("x-gateway-cache-similarity")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    response.text().await.unwrap();
    (label, similarity)
}

pub fn question(system: &str, user: &str) -> Value {
    json!({"model": "mock-model", "messages": [
        {"role": "system", "content": system}, {"role": "user", "content": user}]})
}

#[tokio::test]
async fn paraphrases_hit_l2_with_their_similarity() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    with_l2(&mut config);
    let gw = start(config).await;
    let first = question("Be brief.", "How do I reset my password?");
    assert_eq!(ask(&gw, KEY_A, &first, &[]).await.0, "miss");
    for paraphrase in ["how can I reset my password", "How do I reset my password"] {
        let (label, similarity) = ask(&gw, KEY_A, &question("Be brief.", paraphrase), &[]).await;
        assert_eq!(label, "hit-l2", "{paraphrase}");
        assert!(similarity.unwrap() >= 0.9, "{similarity:?}");
    }
    assert_eq!(mock.requests(), 1);
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("gateway_cache_lookups_total{tier=\"l2\",result=\"hit\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("gateway_l2_index_entries 1"), "{metrics}");
}

#[tokio::test]
async fn near_misses_that_embeddings_confuse_do_not_hit() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    with_l2(&mut config);
    let gw = start(config).await;
    let pairs = [
        (
            "Can I bake a cake with 3 eggs?",
            "Can I bake a cake with 4 eggs?",
        ),
        ("What is new in Python 3.11?", "What is new in Python 3.12?"),
        (
            "Can I eat eggs while pregnant?",
            "Can't I eat eggs while pregnant?",
        ),
        (
            "How do I convert Celsius to Fahrenheit?",
            "How do I convert Fahrenheit to Celsius?",
        ),
        (
            "Find flights from Paris to Rome",
            "Find flights from Rome to Paris",
        ),
        (
            "Find flights from Paris to Rome",
            "Find flights from Paris to Milan",
        ),
    ];
    for (i, (cached, asked)) in pairs.into_iter().enumerate() {
        // A system prompt per pair: each pair has a partition of its own.
        let system = format!("pair {i}");
        assert_eq!(
            ask(&gw, KEY_A, &question(&system, cached), &[]).await.0,
            "miss"
        );
        let label = ask(&gw, KEY_A, &question(&system, asked), &[]).await.0;
        assert_eq!(label, "miss", "{asked} must not reuse {cached}");
    }
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("gateway_l2_verifier_rejections_total"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_different_system_prompt_model_tenant_or_parameter_never_hits() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    with_l2(&mut config);
    let gw = start(config).await;
    let base = question("Be brief.", "How do I reset my password?");
    assert_eq!(ask(&gw, KEY_A, &base, &[]).await.0, "miss");
    let paraphrase = question("Be brief.", "how can I reset my password");
    let mut system = paraphrase.clone();
    system["messages"][0]["content"] = json!("Be verbose.");
    let mut model = paraphrase.clone();
    model["model"] = json!("other-model");
    let mut temperature = paraphrase.clone();
    temperature["temperature"] = json!(1.5);
    for changed in [&system, &model, &temperature] {
        assert_eq!(ask(&gw, KEY_A, changed, &[]).await.0, "miss", "{changed}");
    }
    assert_eq!(
        ask(&gw, KEY_B, &paraphrase, &[]).await.0,
        "miss",
        "another tenant"
    );
    assert_eq!(ask(&gw, KEY_A, &paraphrase, &[]).await.0, "hit-l2");
}

#[tokio::test]
async fn a_request_can_raise_the_threshold_but_not_lower_it() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    with_l2(&mut config);
    let gw = start(config).await;
    assert_eq!(
        ask(
            &gw,
            KEY_A,
            &question("s", "How do I reset my password?"),
            &[]
        )
        .await
        .0,
        "miss"
    );
    let paraphrase = question("s", "how can I reset my password");
    let strict = [("x-gateway-semantic-threshold", "0.9999")];
    assert_eq!(ask(&gw, KEY_A, &paraphrase, &strict).await.0, "miss");
    let lax = [("x-gateway-semantic-threshold", "0.1")];
    let unrelated = question("s", "What is the boiling point of water?");
    assert_eq!(ask(&gw, KEY_A, &unrelated, &lax).await.0, "miss");
}

#[tokio::test]
async fn with_the_embedder_down_requests_are_answered_by_the_upstream() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let mock = mock().await;
    let mut config = config_for(&mock);
    config.embedding.kind = EmbedderKind::Remote;
    config.embedding.url = Some(format!("http://{closed}/v1"));
    config.embedding.api_key = Some(Secret::new("embed-key"));
    config.upstreams.push(UpstreamConfig {
        name: "unused".into(),
        base_url: format!("http://{closed}/v1"),
        api_keys: vec![],
    });
    let gw = start(config).await;
    for _ in 0..2 {
        let (label, _) = ask(
            &gw,
            KEY_A,
            &question("s", "anything at all?"),
            &[("cache-control", "no-store")],
        )
        .await;
        assert_eq!(label, "miss");
    }
    assert_eq!(mock.requests(), 2);
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("gateway_embedding_errors_total 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gateway_cache_lookups_total{tier=\"l2\",result=\"error\"} 2"),
        "{metrics}"
    );
}
