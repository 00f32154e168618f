//! The environment layer: the original Go gateway's variables plus `GATEWAY_*`.
//!
//! Variables arrive as a map so tests never mutate the process environment.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use super::model::{Config, ConfigError};
use super::proxy::{DEFAULT_UPSTREAM_URL, TenantConfig, UpstreamConfig};
use super::secret::Secret;

/// Environment variables as handed to [`Config::load`].
pub type Env = BTreeMap<String, String>;

/// Reads a `.env` file into `env` without overriding variables already set
/// (the real environment wins, as with dotenv everywhere). A missing file is fine.
pub fn read_dotenv(path: &Path, env: &mut Env) -> Result<(), ConfigError> {
    let iter = match dotenvy::from_path_iter(path) {
        Ok(iter) => iter,
        Err(e) if e.not_found() => return Ok(()),
        Err(e) => return Err(dotenv_error(path, e)),
    };
    for item in iter {
        let (key, value) = item.map_err(|e| dotenv_error(path, e))?;
        env.entry(key).or_insert(value);
    }
    Ok(())
}

fn dotenv_error(path: &Path, e: dotenvy::Error) -> ConfigError {
    ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Applies every recognised variable to `config`. Empty values count as unset.
pub(super) fn apply(config: &mut Config, env: &Env) -> Result<(), ConfigError> {
    let get = |name: &str| env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());

    if let Some(v) = get("GATEWAY_LISTEN") {
        config.server.listen = Some(parse("GATEWAY_LISTEN", v)?);
    }
    if let Some(v) = get("PORT") {
        config.server.port = parse("PORT", v)?;
    }
    if let Some(v) = get("GATEWAY_MAX_BODY_BYTES") {
        config.server.max_body_bytes = parse("GATEWAY_MAX_BODY_BYTES", v)?;
    }
    if let Some(v) = get("GATEWAY_SHUTDOWN_GRACE_SECS") {
        config.server.shutdown_grace_secs = parse("GATEWAY_SHUTDOWN_GRACE_SECS", v)?;
    }
    if let Some(v) = get("GATEWAY_RETRY_MAX_ATTEMPTS") {
        config.retry.max_attempts = parse("GATEWAY_RETRY_MAX_ATTEMPTS", v)?;
    }
    if let Some(v) = get("GATEWAY_UPSTREAM_DEADLINE_SECS") {
        config.retry.deadline_secs = parse("GATEWAY_UPSTREAM_DEADLINE_SECS", v)?;
    }
    if let Some(v) = get("TARGET_URL") {
        default_upstream(config).base_url = target_url_to_base(v);
    }
    if let Some(v) = get("DEEPSEEK_API_KEY").or_else(|| get("UPSTREAM_API_KEYS")) {
        default_upstream(config).api_keys = split_list(v).map(Secret::new).collect();
    }
    if let Some(v) = get("GATEWAY_API_KEYS") {
        config.tenants = parse_gateway_keys(v)?;
    }
    if let Some(v) = get("GATEWAY_ADMIN_KEY") {
        config.admin.key = Some(Secret::new(v));
    }
    if let Some(v) = get("REDIS_URL") {
        config.redis.url = Some(Secret::new(v));
    }
    if let Some(v) = get("OTEL_EXPORTER_OTLP_ENDPOINT") {
        config.telemetry.otlp_endpoint = Some(v.to_string());
    }
    if let Some(v) = get("OTEL_SERVICE_NAME") {
        config.telemetry.service_name = v.to_string();
    }
    if let Some(v) = get("GATEWAY_NODE_ID") {
        config.cluster.node_id = Some(v.to_string());
    }
    if let Some(v) = get("GATEWAY_SNAPSHOT_DIR") {
        config.cluster.snapshot_dir = v.into();
    }
    if let Some(v) = get("REDIS_CLUSTER") {
        config.redis.cluster = parse("REDIS_CLUSTER", v)?;
    }
    if let Some(v) = get("EMBEDDING_URL") {
        config.embedding.url = Some(v.to_string());
    }
    if let Some(v) = get("EMBEDDING_API_KEY") {
        config.embedding.api_key = Some(Secret::new(v));
    }
    if let Some(v) = get("EMBEDDING_MODEL") {
        config.embedding.model = Some(v.to_string());
    }
    Ok(())
}

fn parse<T: FromStr>(var: &str, value: &str) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    value.parse().map_err(|e: T::Err| ConfigError::Env {
        var: var.to_string(),
        message: format!("{value:?}: {e}"),
    })
}

fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// The upstream that `TARGET_URL`/`DEEPSEEK_API_KEY` configure: the default one,
/// created as `default` when the config names none.
fn default_upstream(config: &mut Config) -> &mut UpstreamConfig {
    let name = config.default_upstream_name().map(str::to_string);
    let index = name.and_then(|n| config.upstreams.iter().position(|u| u.name == n));
    match index {
        Some(i) => &mut config.upstreams[i],
        None => {
            config.upstreams.push(UpstreamConfig {
                name: "default".into(),
                base_url: DEFAULT_UPSTREAM_URL.into(),
                api_keys: Vec::new(),
            });
            let last = config.upstreams.len() - 1;
            &mut config.upstreams[last]
        }
    }
}

/// The Go gateway's `TARGET_URL` was an origin to which `/v1/...` paths were
/// appended; our base URLs include the version, so add `/v1` unless present.
fn target_url_to_base(value: &str) -> String {
    let trimmed = value.trim_end_matches('/');
    if trimmed.ends_with("/v1") {
        trimmed.to_string()
    } else {
        format!("{trimmed}/v1")
    }
}

/// `GATEWAY_API_KEYS="team-a=key1,team-b=key2,key3"`; a bare key belongs to tenant `default`.
fn parse_gateway_keys(value: &str) -> Result<Vec<TenantConfig>, ConfigError> {
    let mut tenants: Vec<TenantConfig> = Vec::new();
    for item in split_list(value) {
        let (name, key) = match item.split_once('=') {
            Some((name, key)) => (name.trim(), key.trim()),
            None => ("default", item),
        };
        if name.is_empty() || key.is_empty() {
            return Err(ConfigError::Env {
                var: "GATEWAY_API_KEYS".into(),
                message: "expected comma-separated `tenant=key` or `key` items".into(),
            });
        }
        match tenants.iter_mut().find(|t| t.name == name) {
            Some(t) => t.api_keys.push(Secret::new(key)),
            None => tenants.push(TenantConfig {
                name: name.to_string(),
                api_keys: vec![Secret::new(key)],
                limits: Default::default(),
                cache: Default::default(),
            }),
        }
    }
    Ok(tenants)
}
