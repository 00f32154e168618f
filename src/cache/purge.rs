//! Purge marks: "everything of this scope (or of all scopes) stored at or
//! before time T is gone". A purge is applied at once to what a node holds in
//! its L2 index, and lazily — as a miss at look-up — to L1 entries in memory
//! and in Redis, whose keys are hashes that cannot be listed by scope. Marks
//! travel between nodes through the cluster log and persist in Redis and in
//! snapshots, so a node that was down while a purge happened still honours it.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

/// What a purge removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PurgeScope {
    All,
    /// One cache scope (`tenant:<name>` or `shared:<name>`).
    Scope(String),
}

impl PurgeScope {
    /// The scope's name in the log and in Redis (`*` for everything).
    pub fn label(&self) -> &str {
        match self {
            Self::All => "*",
            Self::Scope(s) => s,
        }
    }

    pub fn from_label(label: &str) -> Self {
        match label {
            "*" => Self::All,
            s => Self::Scope(s.to_string()),
        }
    }

    pub fn covers(&self, scope: &str) -> bool {
        match self {
            Self::All => true,
            Self::Scope(s) => s == scope,
        }
    }
}

#[derive(Default)]
struct Marks {
    all: u64,
    scopes: HashMap<String, u64>,
}

/// The purge marks a node knows (unix milliseconds).
#[derive(Default)]
pub struct Purges {
    marks: RwLock<Marks>,
}

impl Purges {
    /// Entries of `scope` stored at or before this time are purged (0: none).
    pub fn cut(&self, scope: &str) -> u64 {
        let marks = self.marks.read().unwrap_or_else(PoisonError::into_inner);
        marks.scopes.get(scope).copied().unwrap_or(0).max(marks.all)
    }

    /// Whether an entry of `scope` stored at `stored_ms` has been purged.
    pub fn purged(&self, scope: &str, stored_ms: u64) -> bool {
        stored_ms <= self.cut(scope)
    }

    /// Records a mark; `false` when an equal or later one was already known.
    pub fn record(&self, scope: &PurgeScope, at_ms: u64) -> bool {
        let mut marks = self.marks.write().unwrap_or_else(PoisonError::into_inner);
        let slot = match scope {
            PurgeScope::All => &mut marks.all,
            PurgeScope::Scope(s) => marks.scopes.entry(s.clone()).or_insert(0),
        };
        if *slot >= at_ms {
            return false;
        }
        *slot = at_ms;
        true
    }

    /// Every mark, for snapshots.
    pub fn export(&self) -> Vec<(PurgeScope, u64)> {
        let marks = self.marks.read().unwrap_or_else(PoisonError::into_inner);
        let mut out: Vec<(PurgeScope, u64)> = marks
            .scopes
            .iter()
            .map(|(s, at)| (PurgeScope::Scope(s.clone()), *at))
            .collect();
        if marks.all > 0 {
            out.push((PurgeScope::All, marks.all));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_mark_covers_only_that_scope_and_an_all_mark_covers_every_scope() {
        let purges = Purges::default();
        assert!(!purges.purged("tenant:a", 1));
        assert!(purges.record(&PurgeScope::Scope("tenant:a".into()), 100));
        assert!(purges.purged("tenant:a", 100));
        assert!(!purges.purged("tenant:a", 101));
        assert!(!purges.purged("tenant:b", 50));
        assert!(purges.record(&PurgeScope::All, 200));
        assert!(purges.purged("tenant:b", 150));
        assert!(purges.purged("tenant:a", 200));
    }

    #[test]
    fn an_older_mark_never_replaces_a_newer_one() {
        let purges = Purges::default();
        let scope = PurgeScope::from_label("tenant:a");
        assert!(purges.record(&scope, 100));
        assert!(!purges.record(&scope, 50));
        assert_eq!(purges.cut("tenant:a"), 100);
        assert_eq!(PurgeScope::from_label("*"), PurgeScope::All);
        assert_eq!(purges.export(), vec![(scope, 100)]);
    }
}
