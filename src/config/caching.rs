//! Configuration sections of the caches: L1, the embedder, the L2 semantic
//! cache and cluster sync with snapshots.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::secret::Secret;

/// Per-tenant cache policy (used by the caches once they are enabled).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantCache {
    pub enabled: bool,
    /// Named scope shared with other tenants; by default a tenant's cache is its own.
    pub shared_scope: Option<String>,
    pub ttl_secs: Option<u64>,
    /// This tenant's L2 similarity threshold (default: `semantic.threshold`).
    pub semantic_threshold: Option<f32>,
    /// This tenant's floor for the precision of L2 hits (default:
    /// `semantic.min_precision`); its requests may raise it, never lower it.
    pub semantic_min_precision: Option<f64>,
}

impl Default for TenantCache {
    fn default() -> Self {
        Self {
            enabled: true,
            shared_scope: None,
            ttl_secs: None,
            semantic_threshold: None,
            semantic_min_precision: None,
        }
    }
}

/// The L1 exact cache.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    pub enabled: bool,
    /// In-process memory budget in bytes (bodies plus bookkeeping).
    pub max_bytes: u64,
    /// TTL of a stored answer unless the tenant or the request says otherwise.
    pub default_ttl_secs: u64,
    /// Upper bound for any TTL, including `x-gateway-cache-ttl`.
    pub max_ttl_secs: u64,
    /// Answers larger than this are not cached.
    pub max_entry_bytes: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_bytes: 256 * 1024 * 1024,
            default_ttl_secs: 3600,
            max_ttl_secs: 86_400,
            max_entry_bytes: 2 * 1024 * 1024,
        }
    }
}

/// Which embedder feeds the L2 semantic cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmbedderKind {
    /// Remote when `url` is set, else local when the model files are present,
    /// else none (L2 off, with a warning).
    #[default]
    Auto,
    Local,
    Remote,
    Off,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddingConfig {
    pub kind: EmbedderKind,
    /// Directory with all-MiniLM-L6-v2's config.json, tokenizer.json and
    /// model.safetensors (`bash scripts/fetch-model.sh` puts them there).
    pub model_dir: PathBuf,
    /// OpenAI-compatible embeddings endpoint base URL (remote embedder).
    pub url: Option<String>,
    pub api_key: Option<Secret>,
    pub model: Option<String>,
    /// Dimension of the remote model's vectors (part of the partition key).
    pub dimensions: usize,
    /// Budget of one embedding; past it L2 is skipped for the request.
    pub timeout_ms: u64,
    /// Most texts embedded together.
    pub max_batch: usize,
    /// Tokens of text waiting to be embedded (and, separately, verified) at
    /// most; past it, or when a text would wait past `timeout_ms`, L2 is
    /// skipped for the request at once.
    pub max_queued_tokens: u64,
}

impl Default for EmbeddingConfig {
    fn default() -> Self {
        Self {
            kind: EmbedderKind::Auto,
            model_dir: PathBuf::from("models/all-MiniLM-L6-v2"),
            url: None,
            api_key: None,
            model: None,
            dimensions: 1536,
            timeout_ms: 2_000,
            max_batch: 32,
            max_queued_tokens: 32_768,
        }
    }
}

/// How L2 decides a hit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifierMode {
    /// The pair verifier (falls back to `rules`, with a warning, when the
    /// base model is not on this node, e.g. with a remote embedder).
    #[default]
    Model,
    Rules,
    Off,
}

/// A rule guard, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Guard {
    Numbers,
    Negation,
    Direction,
    Names,
    /// Another leading question word (when / why / who / where / how
    /// something happened).
    Question,
    /// A word swapped for its antonym ("hard" / "soft"; WordNet's list).
    Antonyms,
}

/// The L2 semantic cache.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SemanticConfig {
    pub enabled: bool,
    /// Cosine similarity a hit needs (tenants may set their own; requests may
    /// only raise it).
    pub threshold: f32,
    /// In `rules` mode, require the rule guards (numbers, negation, direction,
    /// names, question); `false` is plain cosine.
    pub verify: bool,
    /// How hits are decided: `model` (the pair verifier), `rules` (cosine and
    /// rule guards) or `off` (cosine alone).
    pub verifier: VerifierMode,
    /// A retrained verifier (`adapter.safetensors`, `verifier.json`);
    /// default: the one compiled in.
    pub verifier_dir: Option<PathBuf>,
    /// Precision wanted of the verifier's hits, mapped to a score cut-off by
    /// the calibration table shipped with it.
    pub min_precision: f64,
    /// Candidates the verifier reads per look-up (the most similar ones).
    pub candidates: usize,
    /// Rule guards that still veto before the verifier reads a pair.
    pub vetoes: Vec<Guard>,
    /// Share of L2 hits also asked upstream in the background, to measure
    /// how often a semantic hit's answer differs from a fresh one.
    pub audit_sample: f64,
    /// Cosine between the cached and the fresh answer at or above which an
    /// audit counts them as agreeing.
    pub audit_agreement: f32,
    pub max_entries: usize,
    /// Memory budget: vectors, prompt texts and answers.
    pub max_bytes: usize,
    /// Partitions up to this size are searched exactly; larger ones get HNSW.
    pub exact_scan_max: usize,
}

impl Default for SemanticConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            // Chosen on QQP (README, "Semantic quality"): precision first.
            threshold: 0.95,
            verify: true,
            verifier: VerifierMode::Model,
            verifier_dir: None,
            min_precision: 0.95,
            candidates: 3,
            vetoes: vec![Guard::Numbers, Guard::Direction, Guard::Question],
            audit_sample: 0.0,
            audit_agreement: 0.8,
            max_entries: 100_000,
            max_bytes: 512 * 1024 * 1024,
            // Measured (cargo bench --bench semantic): the exact scan beats
            // hnsw_rs here up to 10k vectors.
            exact_scan_max: 10_000,
        }
    }
}

/// Cluster sync of the L2 index through Redis, and warm-restart snapshots.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// This node's name: its snapshot file and the `node` of its log entries
    /// (default: the host name, else `node`). Must be unique and stable per node.
    pub node_id: Option<String>,
    /// Approximate length the vector log is trimmed to (`XADD MAXLEN ~`); a
    /// new node can rebuild from at most this many entries.
    pub stream_maxlen: usize,
    /// How long one `XREAD BLOCK` waits for new entries.
    pub read_block_ms: u64,
    /// Most log entries applied per read.
    pub read_batch: usize,
    /// Write snapshots and load one at start-up.
    pub snapshots: bool,
    pub snapshot_dir: PathBuf,
    /// Period of background snapshots; 0 writes only on `POST /admin/snapshot`
    /// and at shutdown.
    pub snapshot_interval_secs: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            node_id: None,
            stream_maxlen: 100_000,
            read_block_ms: 1_000,
            read_batch: 512,
            snapshots: true,
            snapshot_dir: PathBuf::from("snapshots"),
            snapshot_interval_secs: 300,
        }
    }
}

impl ClusterConfig {
    /// The configured node id, else the host name, else `node`.
    pub fn node(&self) -> String {
        self.node_id
            .clone()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "node".into())
    }
}
