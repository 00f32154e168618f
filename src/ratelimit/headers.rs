//! OpenAI's rate-limit response headers: `x-ratelimit-{limit,remaining,reset}-
//! {requests,tokens}`, reporting the tightest applicable limit of each kind.

use axum::http::{HeaderMap, HeaderName, HeaderValue};

/// One kind's figures: limit per minute, remaining units, time to full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Figures {
    pub limit: u32,
    pub remaining: u64,
    pub reset_us: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateHeaders {
    pub requests: Option<Figures>,
    pub tokens: Option<Figures>,
}

impl RateHeaders {
    /// Keeps the figures with the fewest remaining units per kind.
    pub fn note(slot: &mut Option<Figures>, figures: Figures) {
        if slot.is_none_or(|f| figures.remaining < f.remaining) {
            *slot = Some(figures);
        }
    }

    pub fn apply(&self, headers: &mut HeaderMap) {
        for (kind, figures) in [("requests", self.requests), ("tokens", self.tokens)] {
            let Some(f) = figures else { continue };
            let mut set = |name: &str, value: String| {
                if let (Ok(name), Ok(value)) = (
                    HeaderName::try_from(format!("x-ratelimit-{name}-{kind}")),
                    HeaderValue::try_from(value),
                ) {
                    headers.insert(name, value);
                }
            };
            set("limit", f.limit.to_string());
            set("remaining", f.remaining.to_string());
            set("reset", duration(f.reset_us));
        }
    }
}

/// OpenAI's duration style: `250ms`, `1.5s`, `6m0s`.
pub fn duration(us: u64) -> String {
    let ms = us.div_ceil(1000);
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let secs = ms as f64 / 1000.0;
    if secs < 60.0 {
        let text = format!("{secs:.3}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        return format!("{text}s");
    }
    let whole = ms / 1000;
    format!("{}m{}s", whole / 60, whole % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_openais() {
        assert_eq!(duration(0), "0ms");
        assert_eq!(duration(250_000), "250ms");
        assert_eq!(duration(1_500_000), "1.5s");
        assert_eq!(duration(2_000_000), "2s");
        assert_eq!(duration(360_000_000), "6m0s");
    }

    #[test]
    fn the_tightest_limit_of_a_kind_is_reported() {
        let mut headers = RateHeaders::default();
        let f = |limit, remaining| Figures {
            limit,
            remaining,
            reset_us: 1_000,
        };
        RateHeaders::note(&mut headers.requests, f(100, 40));
        RateHeaders::note(&mut headers.requests, f(10, 3));
        RateHeaders::note(&mut headers.requests, f(50, 9));
        let mut map = HeaderMap::new();
        headers.apply(&mut map);
        assert_eq!(map["x-ratelimit-limit-requests"], "10");
        assert_eq!(map["x-ratelimit-remaining-requests"], "3");
        assert_eq!(map["x-ratelimit-reset-requests"], "1ms");
        assert!(map.get("x-ratelimit-limit-tokens").is_none());
    }
}
