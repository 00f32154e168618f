//! Distributed rate limits (DESIGN.md §3): requests and tokens per minute per
//! tenant (and per tenant and model), decided atomically by one Lua script in
//! Redis — one round trip per request — with a local GCRA fallback while Redis
//! fails. Token limits are charged an estimate up front and reconciled with the
//! real `usage` afterwards.

mod gcra;
mod headers;
mod usage;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

pub use gcra::{LocalGcra, Rate, Standing, Verdict};
pub use headers::{Figures, RateHeaders};
pub use usage::{UsageWatch, total_tokens};

use crate::auth::Tenant;
use crate::config::{RateLimitConfig, RedisFailure};
use crate::metrics::Metrics;
use crate::shared::Shared;

const SCRIPT: &str = include_str!("../lua/ratelimit.lua");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Requests,
    Tokens,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Self::Requests => "requests",
            Self::Tokens => "tokens",
        }
    }
}

/// One limit that applies to a request.
#[derive(Debug, Clone)]
struct Limit {
    /// Key suffix below the tenant's hash tag, e.g. `req` or `tok:m:gpt-4o`.
    suffix: String,
    kind: Kind,
    per_minute: u32,
    rate: Rate,
}

pub enum Decision {
    Allow(Admission),
    Deny {
        kind: Kind,
        retry_after: Duration,
        headers: RateHeaders,
    },
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
                RedisFailure::Open => (pass(&admission), "local"),
                RedisFailure::Closed => (refuse(&admission), "local"),
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
            Decision::Deny {
                kind: denied_kind,
                retry_after: Duration::from_micros(verdict.retry_after_us),
                headers: admission.headers,
            }
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
        let limiter = Arc::clone(self);
        let admission = admission.clone();
        Some(tokio::spawn(async move {
            if !limiter.redis_adjust(&admission, &amounts).await {
                let entries = local_entries(&admission, &amounts, limiter.config.nodes);
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
        self.local
            .take(&local_entries(admission, costs, self.config.nodes))
    }
}

/// What a request costs a limit up front: one request, or its estimated tokens.
/// A request larger than the whole token burst is charged the burst, so it can
/// pass on a full bucket; reconciliation charges the rest afterwards.
fn cost(kind: Kind, tokens: u64, rate: Rate) -> f64 {
    match kind {
        Kind::Requests => 1.0,
        Kind::Tokens => (tokens as f64).min(rate.burst),
    }
}

/// Local keys and this node's share of each limit (limit ÷ nodes).
fn local_entries(admission: &Admission, amounts: &[f64], nodes: u32) -> Vec<(String, Rate, f64)> {
    let nodes = f64::from(nodes.max(1));
    admission
        .limits
        .iter()
        .zip(amounts)
        .map(|(l, amount)| {
            let share = Rate {
                interval_us: l.rate.interval_us * nodes,
                burst: (l.rate.burst / nodes).max(1.0),
            };
            (format!("{}:{}", admission.tenant, l.suffix), share, *amount)
        })
        .collect()
}

fn pass(admission: &Admission) -> Verdict {
    Verdict {
        allowed: true,
        denied: None,
        retry_after_us: 0,
        standings: admission
            .limits
            .iter()
            .map(|l| Standing {
                remaining: l.rate.burst as u64,
                reset_us: 0,
            })
            .collect(),
    }
}

fn refuse(admission: &Admission) -> Verdict {
    Verdict {
        allowed: false,
        denied: Some(0),
        retry_after_us: 1_000_000,
        standings: admission
            .limits
            .iter()
            .map(|_| Standing {
                remaining: 0,
                reset_us: 1_000_000,
            })
            .collect(),
    }
}

/// `{allowed, denied, retry_after_us, (remaining, reset_us) per limit}`.
fn parse_reply(reply: &[i64], limits: usize) -> Option<Verdict> {
    if reply.len() != 3 + 2 * limits {
        return None;
    }
    let standings = reply[3..]
        .chunks(2)
        .map(|c| Standing {
            remaining: c[0].max(0) as u64,
            reset_us: c[1].max(0) as u64,
        })
        .collect();
    Some(Verdict {
        allowed: reply[0] == 1,
        denied: usize::try_from(reply[1])
            .ok()
            .and_then(|i| i.checked_sub(1)),
        retry_after_us: reply[2].max(0) as u64,
        standings,
    })
}

/// `{prefix}{rl:<tenant>}:<suffix>`: one hash tag per tenant, so every key a
/// decision touches lives in one Redis Cluster slot.
fn key(shared: &Shared, tenant: &str, suffix: &str) -> String {
    let tenant: String = tenant
        .chars()
        .map(|c| if c == '{' || c == '}' { '_' } else { c })
        .collect();
    shared.key(&format!("{{rl:{tenant}}}:{suffix}"))
}

/// Every limit configured for the tenant and, if any, for this model.
fn limits_for(tenant: &Tenant, model: &str) -> Vec<Limit> {
    let l = &tenant.limits;
    let mut limits = Vec::new();
    let mut push = |suffix: String, kind, per_minute: Option<u32>, burst: Option<u32>| {
        if let Some(per_minute) = per_minute {
            let burst = burst.unwrap_or(per_minute);
            let rate = Rate::per_minute(per_minute, burst);
            limits.push(Limit {
                suffix,
                kind,
                per_minute,
                rate,
            });
        }
    };
    push(
        "req".into(),
        Kind::Requests,
        l.requests_per_minute,
        l.request_burst,
    );
    push(
        "tok".into(),
        Kind::Tokens,
        l.tokens_per_minute,
        l.token_burst,
    );
    if let Some(m) = l.models.get(model) {
        push(
            format!("req:m:{model}"),
            Kind::Requests,
            m.requests_per_minute,
            m.request_burst,
        );
        push(
            format!("tok:m:{model}"),
            Kind::Tokens,
            m.tokens_per_minute,
            m.token_burst,
        );
    }
    limits
}

#[cfg(test)]
mod tests;
