//! Embedders: text → L2-normalised vector, for the L2 semantic cache. One
//! front type over two backends — the local all-MiniLM-L6-v2 (candle, in
//! process) or any OpenAI-compatible `/v1/embeddings` — with a cache by text
//! hash and a batcher: concurrent requests are embedded together, one batch at
//! a time, off the async runtime.

mod backend;
mod batcher;
mod local;
mod remote;

pub use backend::{Backend, EmbedError, MAX_TEXT_BYTES, cap, normalize};
pub use batcher::{Embedder, token_cost};
pub use local::LocalModel;
pub use remote::RemoteEmbedder;
