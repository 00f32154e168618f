//! What the cache may do for one request: look up, store, for how long, in
//! which scope — from the global config, the tenant, and the request's
//! `Cache-Control` / `x-gateway-cache-ttl` headers.

use std::time::Duration;

use axum::http::{HeaderMap, header};

use crate::auth::Tenant;
use crate::config::{CacheConfig, SemanticConfig};

/// A cache control header the gateway cannot honour.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("x-gateway-cache-ttl must be a whole number of seconds")]
    Ttl,
    #[error("x-gateway-semantic-threshold must be a number within 0..=1")]
    SemanticThreshold,
    #[error("x-gateway-semantic-min-precision must be a number within 0..=1")]
    MinPrecision,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CachePolicy {
    /// Look the request up (`Cache-Control: no-cache` turns this off).
    pub lookup: bool,
    /// Store the answer (`Cache-Control: no-store` turns this off).
    pub store: bool,
    pub ttl: Duration,
    /// The tenant's own scope, or the shared scope it opted into.
    pub scope: String,
    /// Similarity an L2 hit needs: the tenant's (or the global) threshold,
    /// raised — never lowered — by `x-gateway-semantic-threshold`.
    pub semantic_threshold: f32,
    /// The cosine floor the request itself raised to, if it did (on top of
    /// the verifier's prefilter).
    pub raised_threshold: Option<f32>,
    /// Precision wanted of verifier-decided hits: the tenant's (or the
    /// global) floor, raised — never lowered — by
    /// `x-gateway-semantic-min-precision`.
    pub min_precision: f64,
}

impl CachePolicy {
    pub fn decide(
        headers: &HeaderMap,
        tenant: &Tenant,
        config: &CacheConfig,
        semantic: &SemanticConfig,
    ) -> Result<Self, PolicyError> {
        let enabled = config.enabled && tenant.cache.enabled;
        let (no_cache, no_store) = cache_control(headers);
        let max = Duration::from_secs(config.max_ttl_secs);
        let mut ttl = Duration::from_secs(tenant.cache.ttl_secs.unwrap_or(config.default_ttl_secs));
        if let Some(value) = headers.get("x-gateway-cache-ttl") {
            let secs = value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or(PolicyError::Ttl)?;
            ttl = Duration::from_secs(secs);
        }
        let ttl = ttl.min(max);
        let scope = scope_of(&tenant.name, tenant.cache.shared_scope.as_deref());
        let floor = tenant
            .cache
            .semantic_threshold
            .unwrap_or(semantic.threshold);
        let asked = unit(
            headers,
            "x-gateway-semantic-threshold",
            PolicyError::SemanticThreshold,
        )?;
        let precision_floor = tenant
            .cache
            .semantic_min_precision
            .unwrap_or(semantic.min_precision);
        let precision = unit(
            headers,
            "x-gateway-semantic-min-precision",
            PolicyError::MinPrecision,
        )?;
        Ok(Self {
            lookup: enabled && !no_cache,
            store: enabled && !no_store && !ttl.is_zero(),
            ttl,
            scope,
            semantic_threshold: asked.map_or(floor, |t| (t as f32).max(floor)),
            raised_threshold: asked.map(|t| t as f32),
            min_precision: precision.map_or(precision_floor, |p| p.max(precision_floor)),
        })
    }

    /// Whether the cache takes part at all.
    pub fn engaged(&self) -> bool {
        self.lookup || self.store
    }
}

/// A tenant's cache scope: its own, or the shared scope it opted into.
pub fn scope_of(tenant: &str, shared_scope: Option<&str>) -> String {
    match shared_scope {
        Some(shared) => format!("shared:{shared}"),
        None => format!("tenant:{tenant}"),
    }
}

/// A header holding a number within 0..=1, if present.
fn unit(headers: &HeaderMap, name: &str, error: PolicyError) -> Result<Option<f64>, PolicyError> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|t| (0.0..=1.0).contains(t))
        .map(Some)
        .ok_or(error)
}

/// `(no-cache, no-store)` from every `Cache-Control` header.
fn cache_control(headers: &HeaderMap) -> (bool, bool) {
    let mut flags = (false, false);
    for value in headers.get_all(header::CACHE_CONTROL) {
        for directive in value.to_str().unwrap_or("").split(',') {
            match directive.trim().to_ascii_lowercase().as_str() {
                "no-cache" => flags.0 = true,
                "no-store" => flags.1 = true,
                _ => {}
            }
        }
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{TenantCache, TenantLimits};

    #[test]
    fn a_request_may_raise_the_semantic_threshold_but_never_lower_it() {
        assert_eq!(decide(&[]).semantic_threshold, 0.9);
        assert_eq!(
            decide(&[("x-gateway-semantic-threshold", "0.97")]).semantic_threshold,
            0.97
        );
        assert_eq!(
            decide(&[("x-gateway-semantic-threshold", "0.5")]).semantic_threshold,
            0.9
        );
        let strict = TenantCache {
            semantic_threshold: Some(0.95),
            ..TenantCache::default()
        };
        let p = CachePolicy::decide(
            &HeaderMap::new(),
            &tenant(strict),
            &CacheConfig::default(),
            &semantic(),
        )
        .unwrap();
        assert_eq!(p.semantic_threshold, 0.95);
        let bad = CachePolicy::decide(
            &headers(&[("x-gateway-semantic-threshold", "2")]),
            &tenant(TenantCache::default()),
            &CacheConfig::default(),
            &semantic(),
        );
        assert!(bad.is_err());
    }

    fn semantic() -> SemanticConfig {
        SemanticConfig {
            threshold: 0.9,
            ..SemanticConfig::default()
        }
    }

    fn tenant(cache: TenantCache) -> Tenant {
        Tenant {
            name: "a".into(),
            limits: TenantLimits::default(),
            cache,
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn decide(pairs: &[(&str, &str)]) -> CachePolicy {
        CachePolicy::decide(
            &headers(pairs),
            &tenant(TenantCache::default()),
            &CacheConfig::default(),
            &semantic(),
        )
        .unwrap()
    }

    #[test]
    fn by_default_a_request_is_looked_up_and_stored_in_its_tenant_scope() {
        let p = decide(&[]);
        assert!(p.lookup && p.store);
        assert_eq!(p.scope, "tenant:a");
        assert_eq!(p.ttl, Duration::from_secs(3600));
    }

    #[test]
    fn no_cache_skips_the_lookup_and_no_store_skips_storing() {
        let p = decide(&[("cache-control", "No-Cache")]);
        assert!(!p.lookup && p.store);
        let p = decide(&[("cache-control", "max-age=0, no-store")]);
        assert!(p.lookup && !p.store);
    }

    #[test]
    fn the_ttl_header_is_bounded_by_the_maximum_and_must_be_a_number() {
        assert_eq!(
            decide(&[("x-gateway-cache-ttl", "5")]).ttl,
            Duration::from_secs(5)
        );
        assert_eq!(
            decide(&[("x-gateway-cache-ttl", "99999999")]).ttl,
            Duration::from_secs(86_400)
        );
        assert!(!decide(&[("x-gateway-cache-ttl", "0")]).store);
        let bad = CachePolicy::decide(
            &headers(&[("x-gateway-cache-ttl", "soon")]),
            &tenant(TenantCache::default()),
            &CacheConfig::default(),
            &semantic(),
        );
        assert!(bad.is_err());
    }

    #[test]
    fn a_request_may_raise_the_wanted_precision_but_never_lower_it() {
        assert_eq!(decide(&[]).min_precision, 0.95);
        assert_eq!(decide(&[]).raised_threshold, None);
        let p = decide(&[("x-gateway-semantic-min-precision", "0.99")]);
        assert_eq!(p.min_precision, 0.99);
        let p = decide(&[("x-gateway-semantic-min-precision", "0.5")]);
        assert_eq!(p.min_precision, 0.95);
        let strict = TenantCache {
            semantic_min_precision: Some(0.98),
            ..TenantCache::default()
        };
        let p = CachePolicy::decide(
            &HeaderMap::new(),
            &tenant(strict),
            &CacheConfig::default(),
            &semantic(),
        )
        .unwrap();
        assert_eq!(p.min_precision, 0.98);
        let bad = CachePolicy::decide(
            &headers(&[("x-gateway-semantic-min-precision", "high")]),
            &tenant(TenantCache::default()),
            &CacheConfig::default(),
            &semantic(),
        );
        assert_eq!(bad, Err(PolicyError::MinPrecision));
        let raised = decide(&[("x-gateway-semantic-threshold", "0.97")]);
        assert_eq!(raised.raised_threshold, Some(0.97));
    }

    #[test]
    fn tenants_can_switch_the_cache_off_or_share_a_scope() {
        let off = TenantCache {
            enabled: false,
            ..TenantCache::default()
        };
        let p = CachePolicy::decide(
            &HeaderMap::new(),
            &tenant(off),
            &CacheConfig::default(),
            &semantic(),
        )
        .unwrap();
        assert!(!p.engaged());
        let shared = TenantCache {
            shared_scope: Some("co".into()),
            ..TenantCache::default()
        };
        let p = CachePolicy::decide(
            &HeaderMap::new(),
            &tenant(shared),
            &CacheConfig::default(),
            &semantic(),
        )
        .unwrap();
        assert_eq!(p.scope, "shared:co");
    }
}
