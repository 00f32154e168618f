//! Gateway-made errors: OpenAI error JSON with the right status, never HTML.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn missing_or_wrong_gateway_keys_get_401() {
    let mock = mock().await;
    let gw = start(config_for(&mock)).await;
    let url = gw.url("/v1/chat/completions");
    let body = chat("x").to_string();
    let missing = gw.http.post(&url).body(body.clone()).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(error_code(missing).await, "invalid_api_key");
    let wrong = gw
        .http
        .post(&url)
        .bearer_auth("nope")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(error_code(wrong).await, "invalid_api_key");
    let models = gw.http.get(gw.url("/v1/models")).send().await.unwrap();
    assert_eq!(models.status(), 401);
    assert_eq!(mock.requests(), 0);
}

#[tokio::test]
async fn malformed_json_gets_400_and_nothing_goes_upstream() {
    let mock = mock().await;
    let gw = start(config_for(&mock)).await;
    for body in ["{\"model\":", "[1,2]", "{\"messages\":[]}", "\u{0}\u{1}"] {
        let response = gw
            .http
            .post(gw.url("/v1/chat/completions"))
            .bearer_auth(KEY_A)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body:?}");
        assert_eq!(error_code(response).await, "invalid_request");
    }
    assert_eq!(mock.requests(), 0);
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_whether_announced_or_streamed() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    config.server.max_body_bytes = 1024;
    let gw = start(config).await;
    let big = json!({"model": "m", "messages": [{"role": "user", "content": "x".repeat(4096)}]});
    let response = gw.post("/v1/chat/completions", &big).await;
    assert_eq!(response.status(), 413);
    assert_eq!(error_code(response).await, "request_too_large");

    // Chunked, with no Content-Length to reject up front.
    let chunks: Vec<Result<String, std::io::Error>> = (0..8).map(|_| Ok("x".repeat(512))).collect();
    let response = gw
        .http
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(KEY_A)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(mock.requests(), 0);
}

#[tokio::test]
async fn unknown_routes_get_404_and_wrong_methods_405_as_json() {
    let mock = mock().await;
    let gw = start(config_for(&mock)).await;
    let response = gw
        .http
        .get(gw.url("/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(error_code(response).await, "unknown_url");
    let response = gw
        .http
        .get(gw.url("/v1/chat/completions"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(error_code(response).await, "method_not_allowed");
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let mock = mock().await;
    let gw = start(config_for(&mock)).await;
    assert_eq!(
        gw.http
            .get(gw.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        gw.http
            .get(gw.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}
