//! Any OpenAI-compatible `/v1/embeddings` (the original gateway's
//! `EMBEDDING_URL`, `EMBEDDING_API_KEY`, `EMBEDDING_MODEL`), one batch per call.

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::backend::{Backend, EmbedError, normalize};
use crate::config::Secret;

pub struct RemoteEmbedder {
    http: reqwest::Client,
    url: String,
    api_key: Option<Secret>,
    model: String,
}

impl RemoteEmbedder {
    pub fn new(
        base_url: &str,
        api_key: Option<Secret>,
        model: String,
        timeout: Duration,
    ) -> Result<Self, EmbedError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| EmbedError::Load(e.to_string()))?;
        Ok(Self {
            http,
            url: format!("{}/embeddings", base_url.trim_end_matches('/')),
            api_key,
            model,
        })
    }

    async fn call(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut request = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .body(json!({"model": self.model, "input": texts}).to_string());
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key.expose());
        }
        let response = request.send().await.map_err(|e| {
            if e.is_timeout() {
                EmbedError::Timeout
            } else {
                EmbedError::Failed("embedding service unreachable".into())
            }
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(EmbedError::Failed(format!(
                "embedding service answered {status}"
            )));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|_| EmbedError::Failed("embedding response was cut".into()))?;
        let body: Value = serde_json::from_slice(&bytes)
            .map_err(|_| EmbedError::Failed("embedding response is not JSON".into()))?;
        parse(&body, texts.len())
    }
}

/// `data[i].embedding` in `index` order, each normalised.
fn parse(body: &Value, expected: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
    let data = body["data"]
        .as_array()
        .ok_or_else(|| EmbedError::Failed("embedding response has no data".into()))?;
    let mut out = vec![Vec::new(); expected];
    for (position, item) in data.iter().enumerate() {
        let index = item["index"].as_u64().map_or(position, |i| i as usize);
        let vector: Option<Vec<f32>> = item["embedding"].as_array().map(|v| {
            v.iter()
                .filter_map(|x| x.as_f64().map(|f| f as f32))
                .collect()
        });
        match (out.get_mut(index), vector) {
            (Some(slot), Some(mut vector)) if !vector.is_empty() => {
                normalize(&mut vector);
                *slot = vector;
            }
            _ => return Err(EmbedError::Failed("malformed embedding in response".into())),
        }
    }
    if out.iter().any(Vec::is_empty) {
        return Err(EmbedError::Failed(
            "embedding response is missing vectors".into(),
        ));
    }
    Ok(out)
}

impl Backend for RemoteEmbedder {
    fn embed_batch(&self, texts: Vec<String>) -> BoxFuture<'_, Result<Vec<Vec<f32>>, EmbedError>> {
        Box::pin(self.call(texts))
    }
}
