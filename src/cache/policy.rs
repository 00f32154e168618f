//! What the cache may do for one request: look up, store, for how long, in
//! which scope — from the global config, the tenant, and the request's
//! `Cache-Control` / `x-gateway-cache-ttl` headers.

use std::time::Duration;

use axum::http::{HeaderMap, header};

use crate::auth::Tenant;
use crate::config::CacheConfig;
use crate::error::GatewayError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachePolicy {
    /// Look the request up (`Cache-Control: no-cache` turns this off).
    pub lookup: bool,
    /// Store the answer (`Cache-Control: no-store` turns this off).
    pub store: bool,
    pub ttl: Duration,
    /// The tenant's own scope, or the shared scope it opted into.
    pub scope: String,
}

impl CachePolicy {
    pub fn decide(
        headers: &HeaderMap,
        tenant: &Tenant,
        config: &CacheConfig,
    ) -> Result<Self, GatewayError> {
        let enabled = config.enabled && tenant.cache.enabled;
        let (no_cache, no_store) = cache_control(headers);
        let max = Duration::from_secs(config.max_ttl_secs);
        let mut ttl = Duration::from_secs(tenant.cache.ttl_secs.unwrap_or(config.default_ttl_secs));
        if let Some(value) = headers.get("x-gateway-cache-ttl") {
            let secs = value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| GatewayError::BadRequest {
                    message: "x-gateway-cache-ttl must be a whole number of seconds".into(),
                    param: None,
                })?;
            ttl = Duration::from_secs(secs);
        }
        let ttl = ttl.min(max);
        let scope = match &tenant.cache.shared_scope {
            Some(shared) => format!("shared:{shared}"),
            None => format!("tenant:{}", tenant.name),
        };
        Ok(Self {
            lookup: enabled && !no_cache,
            store: enabled && !no_store && !ttl.is_zero(),
            ttl,
            scope,
        })
    }

    /// Whether the cache takes part at all.
    pub fn engaged(&self) -> bool {
        self.lookup || self.store
    }
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
        );
        assert!(bad.is_err());
    }

    #[test]
    fn tenants_can_switch_the_cache_off_or_share_a_scope() {
        let off = TenantCache {
            enabled: false,
            ..TenantCache::default()
        };
        let p =
            CachePolicy::decide(&HeaderMap::new(), &tenant(off), &CacheConfig::default()).unwrap();
        assert!(!p.engaged());
        let shared = TenantCache {
            shared_scope: Some("co".into()),
            ..TenantCache::default()
        };
        let p = CachePolicy::decide(&HeaderMap::new(), &tenant(shared), &CacheConfig::default())
            .unwrap();
        assert_eq!(p.scope, "shared:co");
    }
}
