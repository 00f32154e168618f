//! Gateway API keys → tenants. Keys are compared as SHA-256 digests in constant
//! time, over every configured key, so neither timing nor length leaks a match.

use std::sync::Arc;

use axum::http::{HeaderMap, header};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{Config, TenantCache, TenantLimits};

/// Why a caller was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing or invalid gateway API key")]
    Unauthorized,
    #[error("the admin API is off: set admin.key (GATEWAY_ADMIN_KEY) to enable it")]
    AdminDisabled,
}

/// A caller of the gateway, as resolved from its API key.
#[derive(Debug)]
pub struct Tenant {
    pub name: String,
    pub limits: TenantLimits,
    pub cache: TenantCache,
}

impl Tenant {
    fn open() -> Self {
        Self {
            name: "default".into(),
            limits: TenantLimits::default(),
            cache: TenantCache::default(),
        }
    }
}

/// The authentication stage.
#[derive(Debug)]
pub struct Auth {
    keys: Vec<([u8; 32], Arc<Tenant>)>,
    /// Set when no gateway keys are configured: everyone is this tenant.
    open: Option<Arc<Tenant>>,
}

impl Auth {
    pub fn from_config(config: &Config) -> Self {
        if config.is_open() {
            return Self {
                keys: Vec::new(),
                open: Some(Arc::new(Tenant::open())),
            };
        }
        let mut keys = Vec::new();
        for t in &config.tenants {
            let tenant = Arc::new(Tenant {
                name: t.name.clone(),
                limits: t.limits.clone(),
                cache: t.cache.clone(),
            });
            for key in &t.api_keys {
                keys.push((digest(key.expose()), Arc::clone(&tenant)));
            }
        }
        Self { keys, open: None }
    }

    /// Resolves the tenant of a request from `Authorization: Bearer <key>`.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Arc<Tenant>, AuthError> {
        if let Some(tenant) = &self.open {
            return Ok(Arc::clone(tenant));
        }
        let token = bearer_token(headers).ok_or(AuthError::Unauthorized)?;
        let presented = digest(token);
        let mut found: Option<&Arc<Tenant>> = None;
        for (key, tenant) in &self.keys {
            // No early exit: every key is compared whatever matched before.
            if bool::from(key.ct_eq(&presented)) {
                found = Some(tenant);
            }
        }
        found.cloned().ok_or(AuthError::Unauthorized)
    }
}

/// The admin key guarding `/admin/*`, kept as a digest and compared in
/// constant time like gateway keys. Without one the admin API is off.
#[derive(Debug)]
pub struct AdminKey(Option<[u8; 32]>);

impl AdminKey {
    pub fn from_config(config: &Config) -> Self {
        Self(config.admin.key.as_ref().map(|k| digest(k.expose())))
    }

    pub fn check(&self, headers: &HeaderMap) -> Result<(), AuthError> {
        let Some(expected) = &self.0 else {
            return Err(AuthError::AdminDisabled);
        };
        let presented = bearer_token(headers).map(digest);
        match presented {
            Some(p) if bool::from(p.ct_eq(expected)) => Ok(()),
            _ => Err(AuthError::Unauthorized),
        }
    }
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Secret, TenantConfig};

    fn config_with(keys: &[(&str, &str)]) -> Config {
        let mut config = Config::default();
        for (name, key) in keys {
            config.tenants.push(TenantConfig {
                name: name.to_string(),
                api_keys: vec![Secret::new(*key)],
                limits: Default::default(),
                cache: Default::default(),
            });
        }
        config
    }

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, auth.parse().unwrap());
        h
    }

    #[test]
    fn a_known_key_resolves_to_its_tenant() {
        let auth = Auth::from_config(&config_with(&[("a", "key-a"), ("b", "key-b")]));
        assert_eq!(
            auth.authenticate(&headers("Bearer key-b")).unwrap().name,
            "b"
        );
        assert_eq!(
            auth.authenticate(&headers("bearer  key-a ")).unwrap().name,
            "a"
        );
    }

    #[test]
    fn missing_wrong_or_malformed_keys_are_refused() {
        let auth = Auth::from_config(&config_with(&[("a", "key-a")]));
        assert!(auth.authenticate(&HeaderMap::new()).is_err());
        assert!(auth.authenticate(&headers("Bearer key-b")).is_err());
        assert!(auth.authenticate(&headers("Basic key-a")).is_err());
        assert!(auth.authenticate(&headers("Bearer ")).is_err());
        assert!(auth.authenticate(&headers("Bearer key-a-longer")).is_err());
    }

    #[test]
    fn the_admin_key_is_required_and_checked_and_absent_means_off() {
        let mut config = config_with(&[("a", "key-a")]);
        let off = AdminKey::from_config(&config);
        assert!(matches!(
            off.check(&headers("Bearer anything")),
            Err(AuthError::AdminDisabled)
        ));
        config.admin.key = Some(Secret::new("admin-key"));
        let admin = AdminKey::from_config(&config);
        assert!(admin.check(&headers("Bearer admin-key")).is_ok());
        assert!(admin.check(&headers("Bearer key-a")).is_err());
        assert!(admin.check(&HeaderMap::new()).is_err());
    }

    #[test]
    fn without_keys_everyone_is_the_default_tenant() {
        let auth = Auth::from_config(&Config::default());
        assert_eq!(
            auth.authenticate(&HeaderMap::new()).unwrap().name,
            "default"
        );
    }
}
