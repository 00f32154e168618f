//! The rate-limit stage: admit (one Lua round trip, or the local fallback)
//! and settle (the real cost, in the background).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::gcra::{LocalGcra, Verdict};
use super::headers::{Figures, RateHeaders};
use super::limits::{Kind, Limit, cost, key, limits_for, local_entries, parse_reply, pass, refuse};
use crate::auth::Tenant;
use crate::config::{RateLimitConfig, RedisFailure};
use crate::metrics::Metrics;
use crate::shared::Shared;

const SCRIPT: &str = include_str!("../../lua/ratelimit.lua");

pub enum Decision {
    Allow(Admission),
    Deny(Denial),
}

/// A refused request: which limit, when to retry, and the figures for the
/// `x-ratelimit-*` headers.
#[derive(Debug, Clone)]
pub struct Denial {
    pub kind: Kind,
    pub retry_after: Duration,
    pub headers: RateHeaders,
}

/// An admitted request's charge, to reconcile once its real cost is known.
#[derive(Debug, Clone, Default)]
pub struct Admission {
    pub headers: RateHeaders,
    tenant: String,
    limits: Vec<Limit>,
    /// What each limit was charged.
    charged: Vec<f64>,
}

impl Admission {
    fn has(&self, kind: Kind) -> bool {
        self.limits.iter().any(|l| l.kind == kind)
    }
}

pub struct RateLimiter {
    shared: Option<Shared>,
    script: redis::Script,
    local: LocalGcra,
    config: RateLimitConfig,
    /// While `Instant` is before this (ms since `epoch`), Redis is skipped.
    redis_down_until_ms: AtomicU64,
    epoch: Instant,
    metrics: Arc<Metrics>,
}

impl RateLimiter {
    pub fn new(config: RateLimitConfig, shared: Option<Shared>, metrics: Arc<Metrics>) -> Self {
        Self {
            shared,
            script: redis::Script::new(SCRIPT),
            local: LocalGcra::default(),
            config,
            redis_down_until_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            metrics,
        }
    }

    /// Decides whether `tenant` may send a request for `model` estimated at
    /// `tokens`. Never fails: Redis trouble falls back per configuration.
    pub async fn admit(&self, tenant: &Tenant, model: &str, tokens: u64) -> Decision {
        let limits = limits_for(tenant, model);
        let charged = limits
            .iter()
            .map(|l| cost(l.kind, tokens, l.rate))
            .collect();
        let admission = Admission {
            headers: RateHeaders::default(),
            tenant: tenant.name.clone(),
            limits,
            charged,
        };
        if admission.limits.is_empty() {
            return Decision::Allow(admission);
        }
        let costs = admission.charged.clone();
        let (verdict, source) = match self.redis_take(&admission, &costs).await {
            Some(verdict) => (verdict, "redis"),
            None => match self.config.on_redis_failure {
                RedisFailure::Local => (self.local_take(&admission, &costs), "local"),
                RedisFailure::Open => (pass(&admission.limits), "local"),
                RedisFailure::Closed => (refuse(&admission.limits), "local"),
            },
        };
        self.decide(admission, verdict, source)
    }

    fn decide(&self, mut admission: Admission, verdict: Verdict, source: &'static str) -> Decision {
        for (limit, standing) in admission.limits.iter().zip(&verdict.standings) {
            let figures = Figures {
                limit: limit.per_minute,
                remaining: standing.remaining,
                reset_us: standing.reset_us,
            };
            match limit.kind {
                Kind::Requests => RateHeaders::note(&mut admission.headers.requests, figures),
                Kind::Tokens => RateHeaders::note(&mut admission.headers.tokens, figures),
            }
        }
        let denied_kind = verdict
            .denied
            .and_then(|i| admission.limits.get(i))
            .map_or(Kind::Requests, |l| l.kind);
        for kind in [Kind::Requests, Kind::Tokens] {
            if !admission.has(kind) {
                continue;
            }
            let result = match (verdict.allowed, kind == denied_kind) {
                (true, _) => "allow",
                (false, true) => "deny",
                (false, false) => continue,
            };
            self.metrics
                .ratelimit_decision(result, kind.label(), source);
        }
        if verdict.allowed {
            Decision::Allow(admission)
        } else {
            Decision::Deny(Denial {
                kind: denied_kind,
                retry_after: Duration::from_micros(verdict.retry_after_us),
                headers: admission.headers,
            })
        }
    }

    /// Reconciles an admission with what the request really cost: its actual
    /// tokens (`None`: unknown, keep the estimate) and, when `refund_request`,
    /// its request slot (a cache hit, when hits are configured to be free).
    /// Runs in the background (the handle is for tests); a failure only loses
    /// the correction.
    pub fn settle(
        self: &Arc<Self>,
        admission: &Admission,
        actual_tokens: Option<u64>,
        refund_request: bool,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let amounts: Vec<f64> = admission
            .limits
            .iter()
            .zip(&admission.charged)
            .map(|(l, charged)| match (l.kind, actual_tokens) {
                (Kind::Requests, _) if refund_request => -1.0,
                (Kind::Tokens, Some(actual)) => actual as f64 - charged,
                _ => 0.0,
            })
            .collect();
        if amounts.iter().all(|a| *a == 0.0) {
            return None;
        }
        // Settling may happen as a request is dropped at shutdown, after the
        // runtime is gone: then there is nothing left to correct.
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let limiter = Arc::clone(self);
        let admission = admission.clone();
        Some(runtime.spawn(async move {
            if !limiter.redis_adjust(&admission, &amounts).await {
                let entries = local_entries(
                    &admission.tenant,
                    &admission.limits,
                    &amounts,
                    limiter.config.nodes,
                );
                limiter.local.adjust(&entries);
            }
        }))
    }

    /// Whether a cache hit gives its request slot back.
    pub fn hits_are_free(&self) -> bool {
        !self.config.count_cache_hits
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// The Redis client, unless Redis is absent or recently failed.
    fn redis(&self) -> Option<&Shared> {
        let shared = self.shared.as_ref()?;
        (self.now_ms() >= self.redis_down_until_ms.load(Ordering::Relaxed)).then_some(shared)
    }

    fn redis_failed(&self) {
        let until = self.now_ms() + self.config.redis_retry_ms;
        self.redis_down_until_ms.store(until, Ordering::Relaxed);
    }

    fn invocation(
        &self,
        mode: &str,
        admission: &Admission,
        amounts: &[f64],
        shared: &Shared,
    ) -> redis::ScriptInvocation<'_> {
        let mut invocation = self.script.prepare_invoke();
        invocation.arg(mode);
        for (limit, amount) in admission.limits.iter().zip(amounts) {
            invocation.key(key(shared, &admission.tenant, &limit.suffix));
            invocation
                .arg(limit.rate.interval_us)
                .arg(limit.rate.burst)
                .arg(*amount);
        }
        invocation
    }

    async fn redis_take(&self, admission: &Admission, costs: &[f64]) -> Option<Verdict> {
        let shared = self.redis()?;
        let invocation = self.invocation("take", admission, costs, shared);
        match shared.invoke::<Vec<i64>>("ratelimit", &invocation).await {
            Ok(reply) => parse_reply(&reply, admission.limits.len()),
            Err(_) => {
                self.redis_failed();
                None
            }
        }
    }

    async fn redis_adjust(&self, admission: &Admission, amounts: &[f64]) -> bool {
        let Some(shared) = self.redis() else {
            return false;
        };
        let invocation = self.invocation("adjust", admission, amounts, shared);
        let ok = shared
            .invoke::<Vec<i64>>("ratelimit_adjust", &invocation)
            .await
            .is_ok();
        if !ok {
            self.redis_failed();
        }
        ok
    }

    fn local_take(&self, admission: &Admission, costs: &[f64]) -> Verdict {
        self.local.take(&local_entries(
            &admission.tenant,
            &admission.limits,
            costs,
            self.config.nodes,
        ))
    }
}
