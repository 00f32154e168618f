use std::collections::BTreeMap;

use std::sync::Arc;
use std::time::Duration;

use super::limits::{key, limits_for, parse_reply};
use super::*;
use crate::auth::Tenant;
use crate::config::{
    ModelLimits, RateLimitConfig, RedisConfig, RedisFailure, TenantCache, TenantLimits,
};
use crate::metrics::Metrics;
use crate::shared::Shared;

fn tenant(limits: TenantLimits) -> Tenant {
    Tenant {
        name: "team-a".into(),
        limits,
        cache: TenantCache::default(),
    }
}

fn rpm(per_minute: u32, burst: u32) -> TenantLimits {
    TenantLimits {
        requests_per_minute: Some(per_minute),
        request_burst: Some(burst),
        ..TenantLimits::default()
    }
}

fn limiter(config: RateLimitConfig) -> Arc<RateLimiter> {
    Arc::new(RateLimiter::new(config, None, Arc::new(Metrics::new())))
}

async fn admitted(limiter: &RateLimiter, tenant: &Tenant, n: usize) -> usize {
    let mut count = 0;
    for _ in 0..n {
        if let Decision::Allow(_) = limiter.admit(tenant, "m", 10).await {
            count += 1;
        }
    }
    count
}

#[test]
fn tenant_and_model_limits_are_collected_with_bursts_defaulting_to_the_limit() {
    let mut limits = rpm(60, 5);
    limits.tokens_per_minute = Some(1000);
    let model = ModelLimits {
        requests_per_minute: Some(6),
        ..ModelLimits::default()
    };
    limits.models = BTreeMap::from([("gpt-4o".to_string(), model)]);
    let t = tenant(limits);
    let for_model: Vec<_> = limits_for(&t, "gpt-4o")
        .iter()
        .map(|l| l.suffix.clone())
        .collect();
    assert_eq!(for_model, ["req", "tok", "req:m:gpt-4o"]);
    let other = limits_for(&t, "other");
    assert_eq!(other.len(), 2);
    assert_eq!(other[1].rate.burst, 1000.0);
}

#[tokio::test]
async fn keys_share_one_hash_tag_per_tenant_and_cannot_break_out_of_it() {
    let shared = Shared::connect_lazily(
        "redis://127.0.0.1:1/",
        &RedisConfig::default(),
        Arc::new(Metrics::new()),
    )
    .unwrap();
    assert_eq!(key(&shared, "team-a", "req"), "gw:{rl:team-a}:req");
    assert_eq!(key(&shared, "team-a", "tok:m:x"), "gw:{rl:team-a}:tok:m:x");
    assert_eq!(key(&shared, "a}b{", "req"), "gw:{rl:a_b_}:req");
}

#[tokio::test(start_paused = true)]
async fn without_redis_the_local_limiter_enforces_the_limit() {
    let limiter = limiter(RateLimitConfig::default());
    let t = tenant(rpm(60, 5));
    assert_eq!(admitted(&limiter, &t, 8).await, 5);
    match limiter.admit(&t, "m", 1).await {
        Decision::Deny(Denial {
            kind,
            retry_after,
            headers,
        }) => {
            assert_eq!(kind, Kind::Requests);
            assert_eq!(retry_after, Duration::from_secs(1));
            assert_eq!(headers.requests.unwrap().remaining, 0);
        }
        Decision::Allow(_) => panic!("over the limit"),
    }
}

#[tokio::test(start_paused = true)]
async fn the_local_share_is_the_limit_divided_by_the_node_count() {
    let config = RateLimitConfig {
        nodes: 3,
        ..RateLimitConfig::default()
    };
    let limiter = limiter(config);
    assert_eq!(admitted(&limiter, &tenant(rpm(60, 9)), 20).await, 3);
}

#[tokio::test(start_paused = true)]
async fn open_and_closed_failure_modes_admit_all_or_nothing() {
    let t = tenant(rpm(60, 1));
    let open = limiter(RateLimitConfig {
        on_redis_failure: RedisFailure::Open,
        ..RateLimitConfig::default()
    });
    assert_eq!(admitted(&open, &t, 5).await, 5);
    let closed = limiter(RateLimitConfig {
        on_redis_failure: RedisFailure::Closed,
        ..RateLimitConfig::default()
    });
    assert_eq!(admitted(&closed, &t, 5).await, 0);
}

#[tokio::test(start_paused = true)]
async fn tenants_without_limits_are_always_admitted() {
    let limiter = limiter(RateLimitConfig::default());
    assert_eq!(
        admitted(&limiter, &tenant(TenantLimits::default()), 50).await,
        50
    );
}

#[tokio::test(start_paused = true)]
async fn settling_refunds_unused_tokens_locally() {
    let limiter = limiter(RateLimitConfig::default());
    let t = tenant(TenantLimits {
        tokens_per_minute: Some(100),
        ..TenantLimits::default()
    });
    let Decision::Allow(admission) = limiter.admit(&t, "m", 90).await else {
        panic!("first request fits")
    };
    assert!(matches!(
        limiter.admit(&t, "m", 90).await,
        Decision::Deny(_)
    ));
    let refund = limiter
        .settle(&admission, Some(10), false)
        .expect("a correction");
    refund.await.unwrap();
    assert!(matches!(
        limiter.admit(&t, "m", 80).await,
        Decision::Allow(_)
    ));
}

#[test]
fn replies_of_the_wrong_shape_are_rejected() {
    assert!(parse_reply(&[1, 0, 0], 1).is_none());
    let v = parse_reply(&[0, 2, 1500, 3, 10, 0, 2000], 2).unwrap();
    assert!(!v.allowed);
    assert_eq!(v.denied, Some(1));
    assert_eq!(v.retry_after_us, 1500);
    assert_eq!(
        v.standings[1],
        Standing {
            remaining: 0,
            reset_us: 2000
        }
    );
}
