//! Mock `/v1/embeddings` (deterministic unit vectors per input text) and
//! `/v1/models`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::MockState;
use super::chat::{apply_faults, error};

pub async fn embeddings(
    State(state): State<Arc<MockState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "mock: body is not JSON", None);
    };
    let inputs: Vec<String> = match &request["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => return error(StatusCode::BAD_REQUEST, "mock: `input` must be text", None),
    };
    if let Err(response) = apply_faults(&state, &headers, request.clone()).await {
        return response;
    }
    let dim = state.options.embedding_dim;
    // `encoding_format: "base64"` (the Node SDK's default): little-endian f32s.
    let base64 = request["encoding_format"].as_str() == Some("base64");
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let v = vector(text, dim);
            let embedding = match base64 {
                true => json!(
                    BASE64.encode(v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>())
                ),
                false => json!(v),
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    let tokens: usize = inputs.iter().map(|t| t.split_whitespace().count()).sum();
    axum::Json(json!({
        "object": "list",
        "data": data,
        "model": request["model"].as_str().unwrap_or("mock-embedding"),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }))
    .into_response()
}

/// A unit vector that depends only on `text`.
pub fn vector(text: &str, dim: usize) -> Vec<f32> {
    let seed: [u8; 32] = Sha256::digest(text.as_bytes()).into();
    let mut rng = StdRng::from_seed(seed);
    let raw: Vec<f32> = (0..dim).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    let norm = raw
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::EPSILON);
    raw.into_iter().map(|x| x / norm).collect()
}

pub async fn models() -> Response {
    axum::Json(json!({
        "object": "list",
        "data": [
            {"id": "mock-model", "object": "model", "created": 1_700_000_000, "owned_by": "mock"},
            {"id": "mock-embedding", "object": "model", "created": 1_700_000_000, "owned_by": "mock"},
        ],
    }))
    .into_response()
}

/// `GET /v1/models/{id}`.
pub async fn model(Path(id): Path<String>) -> Response {
    axum::Json(json!({"id": id, "object": "model", "created": 1_700_000_000, "owned_by": "mock"}))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_deterministic_unit_length_and_differ_by_text() {
        let a = vector("hello", 64);
        assert_eq!(a, vector("hello", 64));
        assert_ne!(a, vector("hello!", 64));
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
    }
}
