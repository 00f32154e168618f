//! Distributed rate limits (DESIGN.md §3): requests and tokens per minute per
//! tenant (and per tenant and model), decided atomically by one Lua script in
//! Redis — one round trip per request — with a local GCRA fallback while Redis
//! fails. Token limits are charged an estimate up front and reconciled with the
//! real `usage` afterwards.

mod charge;
mod gcra;
mod headers;
mod limiter;
mod limits;
mod usage;

pub use charge::Charge;
pub use gcra::{LocalGcra, Rate, Standing, Verdict};
pub use headers::{Figures, RateHeaders};
pub use limiter::{Admission, Decision, Denial, RateLimiter};
pub use limits::Kind;
pub use usage::{OnUsage, UsageWatch, total_tokens};

#[cfg(test)]
mod tests;
