//! Start-up validation: every rule that, broken, would only surface at request time.

use std::collections::HashSet;

use super::model::{Config, ConfigError};
use super::proxy::TenantLimits;
use super::routing::RoutingConfig;

pub(super) fn validate(config: &Config) -> Result<(), ConfigError> {
    let invalid = |m: String| Err(ConfigError::Invalid(m));

    let server = &config.server;
    if server.max_body_bytes == 0
        || server.max_connections == 0
        || server.header_read_timeout_secs == 0
        || server.body_read_timeout_secs == 0
        || server.min_body_rate == 0
        || server.max_header_bytes < 1024
        || server.http2_max_streams == 0
    {
        return invalid(
            "server.max_body_bytes, max_connections, header_read_timeout_secs, \
             body_read_timeout_secs, min_body_rate and http2_max_streams must be greater than 0, \
             max_header_bytes at least 1024"
                .into(),
        );
    }
    validate_retry(config)?;
    validate_telemetry(config)?;
    validate_fallbacks(config)?;
    validate_upstreams(config)?;
    validate_tenants(config)?;

    if let Some(url) = &config.redis.url {
        validate_redis_urls(url.expose(), config.redis.cluster)?;
    }
    validate_cluster(config)?;
    let cache = &config.cache;
    if cache.max_ttl_secs == 0 || cache.default_ttl_secs > cache.max_ttl_secs {
        return invalid("cache.default_ttl_secs must be at most cache.max_ttl_secs (> 0)".into());
    }
    let t = config.semantic.threshold;
    if !(0.0..=1.0).contains(&t) || config.semantic.max_entries == 0 {
        return invalid(
            "semantic.threshold must be within 0..=1 and semantic.max_entries > 0".into(),
        );
    }
    validate_semantic(config)?;
    if config.embedding.timeout_ms == 0 || config.embedding.max_batch == 0 {
        return invalid(
            "embedding.timeout_ms and embedding.max_batch must be greater than 0".into(),
        );
    }
    if config
        .tenants
        .iter()
        .filter_map(|t| t.cache.semantic_threshold)
        .any(|t| !(0.0..=1.0).contains(&t))
    {
        return invalid("tenants.cache.semantic_threshold must be within 0..=1".into());
    }
    if config.rate_limit.nodes == 0 {
        return invalid("rate_limit.nodes must be at least 1".into());
    }
    if config.redis.timeout_ms == 0 || config.redis.connect_timeout_ms == 0 {
        return invalid(
            "redis.timeout_ms and redis.connect_timeout_ms must be greater than 0".into(),
        );
    }
    if let Some(url) = &config.embedding.url {
        check_http_url("embedding.url (EMBEDDING_URL)", url)?;
    }
    if config
        .admin
        .key
        .as_ref()
        .is_some_and(|k| k.expose().is_empty())
    {
        return invalid("admin.key must not be empty".into());
    }
    Ok(())
}

/// One URL, or with `redis.cluster` a comma-separated list of seed nodes.
fn validate_semantic(config: &Config) -> Result<(), ConfigError> {
    let invalid = |m: &str| Err(ConfigError::Invalid(m.to_string()));
    let s = &config.semantic;
    let precision = |p: f64| p > 0.0 && p <= 1.0;
    if !precision(s.min_precision) {
        return invalid("semantic.min_precision must be within (0, 1]");
    }
    if !(1..=16).contains(&s.candidates) {
        return invalid("semantic.candidates must be within 1..=16");
    }
    if !(0.0..=1.0).contains(&s.audit_sample) || !(0.0..=1.0).contains(&s.audit_agreement) {
        return invalid("semantic.audit_sample and semantic.audit_agreement must be within 0..=1");
    }
    let tenant_floors = config
        .tenants
        .iter()
        .filter_map(|t| t.cache.semantic_min_precision);
    if tenant_floors.into_iter().any(|p| !precision(p)) {
        return invalid("tenants.cache.semantic_min_precision must be within (0, 1]");
    }
    Ok(())
}

fn validate_redis_urls(urls: &str, cluster: bool) -> Result<(), ConfigError> {
    let urls: Vec<&str> = urls.split(',').map(str::trim).collect();
    if urls.len() > 1 && !cluster {
        return Err(ConfigError::Invalid(
            "redis.url (REDIS_URL) lists several URLs: set redis.cluster (REDIS_CLUSTER=true) \
             for a Redis Cluster"
                .into(),
        ));
    }
    for url in urls {
        let parsed = url::Url::parse(url).map_err(|e| {
            ConfigError::Invalid(format!("redis.url (REDIS_URL) is not a URL: {e}"))
        })?;
        if !matches!(parsed.scheme(), "redis" | "rediss" | "redis+unix" | "unix") {
            return Err(ConfigError::Invalid(format!(
                "redis.url (REDIS_URL) must use redis:// or rediss://, not {}://",
                parsed.scheme()
            )));
        }
    }
    Ok(())
}

fn validate_cluster(config: &Config) -> Result<(), ConfigError> {
    let c = &config.cluster;
    let node = c.node();
    if node.len() > 64
        || !node
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
    {
        return Err(ConfigError::Invalid(format!(
            "cluster.node_id (GATEWAY_NODE_ID) `{node}` must be 1-64 characters of \
             letters, digits, `-`, `_` or `.` (it names the snapshot file)"
        )));
    }
    if c.stream_maxlen == 0 || c.read_batch == 0 || c.read_block_ms == 0 {
        return Err(ConfigError::Invalid(
            "cluster.stream_maxlen, cluster.read_batch and cluster.read_block_ms must be \
             greater than 0"
                .into(),
        ));
    }
    Ok(())
}

fn validate_retry(config: &Config) -> Result<(), ConfigError> {
    let r = &config.retry;
    let problem = if r.max_attempts == 0 {
        Some("retry.max_attempts must be at least 1")
    } else if r.max_attempts > 20 {
        Some("retry.max_attempts must be at most 20")
    } else if r.deadline_secs == 0 || r.attempt_timeout_secs == 0 {
        Some("retry.deadline_secs and retry.attempt_timeout_secs must be greater than 0")
    } else if r.base_delay_ms > r.max_delay_ms {
        Some("retry.base_delay_ms must not exceed retry.max_delay_ms")
    } else if r.stream_idle_timeout_secs == 0 || r.connect_timeout_ms == 0 {
        Some("retry.stream_idle_timeout_secs and retry.connect_timeout_ms must be greater than 0")
    } else {
        None
    };
    match problem {
        Some(m) => Err(ConfigError::Invalid(m.into())),
        None => Ok(()),
    }
}

fn validate_upstreams(config: &Config) -> Result<(), ConfigError> {
    if config.upstreams.is_empty() {
        return Err(ConfigError::Invalid(
            "at least one [[upstreams]] entry (or TARGET_URL) is required".into(),
        ));
    }
    let mut names = HashSet::new();
    for upstream in &config.upstreams {
        if upstream.name.trim().is_empty() {
            return Err(ConfigError::Invalid("an upstream has an empty name".into()));
        }
        if !names.insert(upstream.name.as_str()) {
            return Err(ConfigError::Invalid(format!(
                "upstream name {:?} is used twice",
                upstream.name
            )));
        }
        check_http_url(
            &format!("upstream {:?} base_url", upstream.name),
            &upstream.base_url,
        )?;
        if upstream
            .api_keys
            .iter()
            .any(|k| k.expose().trim().is_empty())
        {
            return Err(ConfigError::Invalid(format!(
                "upstream {:?} has an empty API key",
                upstream.name
            )));
        }
    }
    let known = |n: &str| names.contains(n);
    if let Some(name) = &config.default_upstream
        && !known(name)
    {
        return Err(ConfigError::Invalid(format!(
            "default_upstream {name:?} is not a configured upstream"
        )));
    }
    for (model, target) in &config.models {
        let deployments = target.deployments();
        if deployments.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "models.{model:?} lists no deployments"
            )));
        }
        for d in &deployments {
            if !known(&d.upstream) {
                return Err(ConfigError::Invalid(format!(
                    "models.{model:?} points to unknown upstream {:?}",
                    d.upstream
                )));
            }
            if d.weight == 0 || d.max_in_flight == Some(0) {
                return Err(ConfigError::Invalid(format!(
                    "models.{model:?}: a deployment's weight and max_in_flight must be at least 1"
                )));
            }
            if d.model.as_deref().is_some_and(|m| m.trim().is_empty()) {
                return Err(ConfigError::Invalid(format!(
                    "models.{model:?}: a deployment's model name is empty"
                )));
            }
        }
        check_chain(
            &format!("models.\"{model}\".fallbacks"),
            model,
            target.fallbacks(),
            true,
        )?;
    }
    validate_routing(&config.routing)
}

fn validate_routing(routing: &RoutingConfig) -> Result<(), ConfigError> {
    let b = &routing.breaker;
    if b.consecutive_failures == 0
        || !(b.failure_ratio > 0.0 && b.failure_ratio <= 1.0)
        || b.window_secs == 0
        || b.eject_secs == 0
        || b.max_eject_secs < b.eject_secs
    {
        return Err(ConfigError::Invalid(
            "routing.breaker: consecutive_failures, window_secs and eject_secs must be at least 1, \
             failure_ratio within (0, 1], max_eject_secs at least eject_secs"
                .into(),
        ));
    }
    if !routing.probe_path.starts_with('/') {
        return Err(ConfigError::Invalid(
            "routing.probe_path must start with '/'".into(),
        ));
    }
    Ok(())
}

fn validate_tenants(config: &Config) -> Result<(), ConfigError> {
    let mut names = HashSet::new();
    let mut keys = HashSet::new();
    for tenant in &config.tenants {
        if tenant.name.trim().is_empty() {
            return Err(ConfigError::Invalid("a tenant has an empty name".into()));
        }
        if !names.insert(tenant.name.as_str()) {
            return Err(ConfigError::Invalid(format!(
                "tenant name {:?} is used twice",
                tenant.name
            )));
        }
        if tenant.api_keys.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "tenant {:?} has no api_keys",
                tenant.name
            )));
        }
        validate_limits(&tenant.name, &tenant.limits)?;
        for key in &tenant.api_keys {
            if key.expose().trim().is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "tenant {:?} has an empty API key",
                    tenant.name
                )));
            }
            if !keys.insert(key.expose()) {
                return Err(ConfigError::Invalid(format!(
                    "a gateway API key of tenant {:?} is also used by another entry",
                    tenant.name
                )));
            }
        }
    }
    Ok(())
}

fn check_http_url(what: &str, value: &str) -> Result<(), ConfigError> {
    let url = url::Url::parse(value)
        .map_err(|e| ConfigError::Invalid(format!("{what} {value:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(ConfigError::Invalid(format!(
            "{what} {value:?} must be an http:// or https:// URL with a host"
        )));
    }
    Ok(())
}

fn validate_limits(tenant: &str, limits: &TenantLimits) -> Result<(), ConfigError> {
    let zero = |v: Option<u32>| v == Some(0);
    let bad = zero(limits.requests_per_minute)
        || zero(limits.request_burst)
        || zero(limits.tokens_per_minute)
        || zero(limits.token_burst)
        || limits.models.values().any(|m| {
            zero(m.requests_per_minute)
                || zero(m.request_burst)
                || zero(m.tokens_per_minute)
                || zero(m.token_burst)
        });
    if bad {
        return Err(ConfigError::Invalid(format!(
            "tenant {tenant:?}: limits and bursts must be at least 1 (leave a limit out to disable it)"
        )));
    }
    Ok(())
}

fn validate_telemetry(config: &Config) -> Result<(), ConfigError> {
    let telemetry = &config.telemetry;
    if let Some(endpoint) = &telemetry.otlp_endpoint {
        let url = reqwest::Url::parse(endpoint).map_err(|e| {
            ConfigError::Invalid(format!("telemetry.otlp_endpoint {endpoint:?}: {e}"))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ConfigError::Invalid(
                "telemetry.otlp_endpoint must be an http(s) URL (OTLP/HTTP)".into(),
            ));
        }
    }
    if !(0.0..=1.0).contains(&telemetry.sample_ratio)
        || telemetry.max_queue == 0
        || telemetry.export_interval_ms == 0
    {
        return Err(ConfigError::Invalid(
            "telemetry.sample_ratio must be within 0..=1; max_queue and export_interval_ms \
             greater than 0"
                .into(),
        ));
    }
    Ok(())
}

/// Fallback chains the gateway can walk: named models, none repeated or
/// pointing back at the model, at most five deep.
fn validate_fallbacks(config: &Config) -> Result<(), ConfigError> {
    for (model, chain) in &config.fallbacks {
        check_chain(&format!("fallbacks.\"{model}\""), model, chain, false)?;
    }
    Ok(())
}

fn check_chain(
    at: &str,
    model: &str,
    chain: &[String],
    may_be_empty: bool,
) -> Result<(), ConfigError> {
    let mut seen = HashSet::from([model]);
    if (chain.is_empty() && !may_be_empty) || chain.len() > 5 {
        return Err(ConfigError::Invalid(format!(
            "{at} must list 1 to 5 models"
        )));
    }
    for next in chain {
        if next.trim().is_empty() || !seen.insert(next.as_str()) {
            return Err(ConfigError::Invalid(format!(
                "{at}: {next:?} is empty, repeated or the model itself"
            )));
        }
    }
    Ok(())
}
