//! Which limits apply to a request and how they are keyed and charged:
//! pure functions over the tenant's configuration and the script's replies.

use super::gcra::{Rate, Standing, Verdict};
use crate::auth::Tenant;
use crate::shared::Shared;

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
pub(super) struct Limit {
    /// Key suffix below the tenant's hash tag, e.g. `req` or `tok:m:gpt-4o`.
    pub(super) suffix: String,
    pub(super) kind: Kind,
    pub(super) per_minute: u32,
    pub(super) rate: Rate,
}

/// What a request costs a limit up front: one request, or its estimated tokens.
/// A request larger than the whole token burst is charged the burst, so it can
/// pass on a full bucket; reconciliation charges the rest afterwards.
pub(super) fn cost(kind: Kind, tokens: u64, rate: Rate) -> f64 {
    match kind {
        Kind::Requests => 1.0,
        Kind::Tokens => (tokens as f64).min(rate.burst),
    }
}

/// Local keys and this node's share of each limit (limit ÷ nodes).
pub(super) fn local_entries(
    tenant: &str,
    limits: &[Limit],
    amounts: &[f64],
    nodes: u32,
) -> Vec<(String, Rate, f64)> {
    let nodes = f64::from(nodes.max(1));
    limits
        .iter()
        .zip(amounts)
        .map(|(l, amount)| {
            let share = Rate {
                interval_us: l.rate.interval_us * nodes,
                burst: (l.rate.burst / nodes).max(1.0),
            };
            (format!("{tenant}:{}", l.suffix), share, *amount)
        })
        .collect()
}

pub(super) fn pass(limits: &[Limit]) -> Verdict {
    Verdict {
        allowed: true,
        denied: None,
        retry_after_us: 0,
        standings: limits
            .iter()
            .map(|l| Standing {
                remaining: l.rate.burst as u64,
                reset_us: 0,
            })
            .collect(),
    }
}

pub(super) fn refuse(limits: &[Limit]) -> Verdict {
    Verdict {
        allowed: false,
        denied: Some(0),
        retry_after_us: 1_000_000,
        standings: limits
            .iter()
            .map(|_| Standing {
                remaining: 0,
                reset_us: 1_000_000,
            })
            .collect(),
    }
}

/// `{allowed, denied, retry_after_us, (remaining, reset_us) per limit}`.
pub(super) fn parse_reply(reply: &[i64], limits: usize) -> Option<Verdict> {
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
pub(super) fn key(shared: &Shared, tenant: &str, suffix: &str) -> String {
    let tenant: String = tenant
        .chars()
        .map(|c| if c == '{' || c == '}' { '_' } else { c })
        .collect();
    shared.key(&format!("{{rl:{tenant}}}:{suffix}"))
}

/// Every limit configured for the tenant and, if any, for this model.
pub(super) fn limits_for(tenant: &Tenant, model: &str) -> Vec<Limit> {
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
