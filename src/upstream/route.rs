//! Upstream providers and the model → upstream routing table.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::pool::KeyPool;
use crate::config::Config;

/// One provider: where to send requests and which keys to use.
pub struct Upstream {
    pub name: String,
    base_url: String,
    pub pool: KeyPool,
}

impl Upstream {
    /// Full URL for an API path such as `/chat/completions`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }
}

/// A model mapped to an upstream that does not exist (configuration
/// validation rules it out; this guards the table's construction).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("a model maps to an unknown upstream")]
pub struct RoutingError;

/// All upstreams and the model → upstream routing table.
pub struct Upstreams {
    list: Vec<Arc<Upstream>>,
    default: usize,
    exact: HashMap<String, usize>,
    /// `(prefix, upstream)` for `"prefix*"` patterns, longest prefix first.
    prefixes: Vec<(String, usize)>,
}

impl Upstreams {
    /// Builds the table from a validated config.
    pub fn from_config(config: &Config) -> Result<Self, RoutingError> {
        let retry = &config.retry;
        let base = Duration::from_millis(retry.key_cooldown_ms);
        let max = Duration::from_secs(retry.max_retry_after_secs).max(base);
        let list: Vec<_> = config
            .upstreams
            .iter()
            .map(|u| {
                Arc::new(Upstream {
                    name: u.name.clone(),
                    base_url: u.base_url.trim_end_matches('/').to_string(),
                    pool: KeyPool::new(&u.api_keys, base, max),
                })
            })
            .collect();
        let index = |name: &str| list.iter().position(|u| u.name == name);
        let default = config
            .default_upstream_name()
            .and_then(index)
            .ok_or(RoutingError)?;
        let mut exact = HashMap::new();
        let mut prefixes = Vec::new();
        for (model, target) in &config.models {
            let i = index(target).ok_or(RoutingError)?;
            match model.strip_suffix('*') {
                Some(prefix) => prefixes.push((prefix.to_string(), i)),
                None => {
                    exact.insert(model.clone(), i);
                }
            }
        }
        prefixes.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        Ok(Self {
            list,
            default,
            exact,
            prefixes,
        })
    }

    /// The upstream serving `model`: exact mapping, then longest prefix, then default.
    pub fn route(&self, model: Option<&str>) -> &Arc<Upstream> {
        let index = model.and_then(|m| {
            self.exact.get(m).copied().or_else(|| {
                self.prefixes
                    .iter()
                    .find(|(p, _)| m.starts_with(p.as_str()))
                    .map(|(_, i)| *i)
            })
        });
        &self.list[index.unwrap_or(self.default)]
    }
}
