//! Starts the mock OpenAI-compatible upstream, to try the gateway without an API key.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use mock_upstream::{MockOptions, MockUpstream};

/// Mock OpenAI-compatible upstream: chat completions (JSON and SSE), embeddings,
/// models. Send `x-mock-fault: 503` or `x-mock-fault: cut:3` to inject faults,
/// `x-mock-latency-ms: 200` to slow one request down.
#[derive(Debug, Parser)]
#[command(name = "mock-upstream", version)]
struct Cli {
    #[arg(long, default_value = "127.0.0.1:8081")]
    listen: SocketAddr,
    /// Delay before each response head, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Delay between streamed chunks, in milliseconds.
    #[arg(long, default_value_t = 20)]
    chunk_delay_ms: u64,
    /// Share of requests answered 503 at random (0.0–1.0).
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    #[arg(long, default_value_t = 384)]
    embedding_dim: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    anyhow::ensure!(
        (0.0..=1.0).contains(&cli.error_rate),
        "--error-rate must be within 0..=1"
    );
    let options = MockOptions {
        latency: Duration::from_millis(cli.latency_ms),
        chunk_delay: Duration::from_millis(cli.chunk_delay_ms),
        error_rate: cli.error_rate,
        embedding_dim: cli.embedding_dim,
    };
    let mock = MockUpstream::start_on(cli.listen, options).await?;
    println!("mock upstream listening on {}", mock.base_url());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
