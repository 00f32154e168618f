//! What the cache did for a request, as the `x-gateway-cache` header and the
//! access log name it.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    /// The cache did not take part (off, or the route is not cacheable).
    Bypass,
    Miss,
    HitL1,
    HitL2,
}

impl CacheStatus {
    pub fn label(self) -> &'static str {
        match self {
            Self::Bypass => "bypass",
            Self::Miss => "miss",
            Self::HitL1 => "hit-l1",
            Self::HitL2 => "hit-l2",
        }
    }

    /// Counted as a hit in the caches' savings.
    pub fn tier(self) -> Option<&'static str> {
        match self {
            Self::HitL1 => Some("l1"),
            Self::HitL2 => Some("l2"),
            Self::Bypass | Self::Miss => None,
        }
    }
}
