//! The `g-aigateway` binary: parse CLI and configuration, bind, serve until
//! SIGINT/SIGTERM; SIGHUP reloads the configuration.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use g_aigateway::config::{Config, Env, read_dotenv};
use tokio_util::sync::CancellationToken;

/// OpenAI-compatible LLM API gateway.
///
/// Configuration is layered: built-in defaults ← TOML file ← environment (a `.env`
/// file in the working directory included; real variables win over it). With no
/// configuration at all it proxies to DeepSeek with the key in DEEPSEEK_API_KEY,
/// open to anyone on 127.0.0.1:8080. See examples/gateway.toml for every option.
///
/// Environment: TARGET_URL, DEEPSEEK_API_KEY (comma-separated for a key pool),
/// PORT, GATEWAY_LISTEN, GATEWAY_API_KEYS ("tenant=key,..."), GATEWAY_ADMIN_KEY,
/// GATEWAY_MAX_BODY_BYTES, GATEWAY_SHUTDOWN_GRACE_SECS, GATEWAY_RETRY_MAX_ATTEMPTS,
/// GATEWAY_UPSTREAM_DEADLINE_SECS, REDIS_URL, EMBEDDING_URL, EMBEDDING_API_KEY,
/// EMBEDDING_MODEL, GATEWAY_CONFIG, GATEWAY_LOG (tracing filter, e.g. "info").
#[derive(Debug, Clone, Parser)]
#[command(name = "g-aigateway", version, verbatim_doc_comment)]
struct Cli {
    /// TOML configuration file (default: $GATEWAY_CONFIG, else none).
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Bind address, overriding the configuration (e.g. 0.0.0.0:8080).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Validate the configuration, print a summary and exit.
    #[arg(long)]
    check_config: bool,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Json)]
    log_format: LogFormat,
    /// Try it without a provider: the bundled mock upstream runs in this
    /// process and every model goes to it (answers echo the prompt; streams
    /// arrive word by word).
    #[arg(long)]
    demo: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Json,
    Pretty,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (config, env) = match load_config(&cli) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("g-aigateway: configuration error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let exporter = init_logging(
        cli.log_format,
        env.get("GATEWAY_LOG").map(String::as_str),
        &config,
    );
    if cli.check_config {
        println!(
            "configuration is valid: {} upstream(s), {} tenant(s), listening on {}",
            config.upstreams.len(),
            config.tenants.len(),
            config.bind_addr()
        );
        return ExitCode::SUCCESS;
    }
    match serve(config, cli, exporter) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "gateway failed");
            eprintln!("g-aigateway: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(cli: &Cli) -> anyhow::Result<(Config, Env)> {
    let mut env: Env = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    read_dotenv(Path::new(".env"), &mut env)?;
    let file = cli.config.clone().or_else(|| {
        env.get("GATEWAY_CONFIG")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
    });
    let mut config = Config::load(file.as_deref(), &env)?;
    if let Some(listen) = cli.listen {
        config.server.listen = Some(listen);
    }
    Ok((config, env))
}

/// Logs (JSON or pretty, filtered by `GATEWAY_LOG`) and, with an OTLP
/// endpoint, the trace layer — each with its own filter. Returns the trace
/// exporter to run once the runtime is up.
fn init_logging(
    format: LogFormat,
    filter: Option<&str>,
    config: &Config,
) -> Option<g_aigateway::telemetry::Exporter> {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let filter = tracing_subscriber::EnvFilter::try_new(filter.unwrap_or("info"))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_filter(filter)
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer().with_filter(filter).boxed(),
    };
    let (traces, exporter) =
        match g_aigateway::telemetry::traces(&config.telemetry, &config.cluster.node()) {
            Some((layer, exporter)) => (
                Some(layer.with_filter(g_aigateway::telemetry::Traces::filter())),
                Some(exporter),
            ),
            None => (None, None),
        };
    tracing_subscriber::registry()
        .with(logs)
        .with(traces)
        .init();
    exporter
}

fn serve(
    mut config: Config,
    cli: Cli,
    exporter: Option<g_aigateway::telemetry::Exporter>,
) -> anyhow::Result<()> {
    let demo = cli.demo;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let _mock = match demo {
            true => Some(demo_upstream(&mut config).await?),
            false => None,
        };
        let addr = config.bind_addr();
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot bind {addr}"))?;
        let bound = listener.local_addr().context("cannot read the bound address")?;
        tracing::info!(addr = %bound, upstreams = config.upstreams.len(), tenants = config.tenants.len(), "gateway listening");
        let shutdown = CancellationToken::new();
        tokio::spawn(cancel_on_signal(shutdown.clone()));
        // The exporter stops after the gateway: the drained requests' spans
        // are sent before the process exits.
        let exported = CancellationToken::new();
        let export = exporter.map(|e| tokio::spawn(e.run(exported.clone())));
        // SIGHUP and POST /admin/reload read the file and environment again
        // (not in demo mode, whose upstream is made up at start).
        let source = (!demo).then(|| {
            std::sync::Arc::new(move || {
                load_config(&cli)
                    .map(|(config, _)| config)
                    .map_err(|e| g_aigateway::config::ConfigError::Invalid(format!("{e:#}")))
            }) as g_aigateway::ConfigSource
        });
        let served = g_aigateway::run_reloadable(listener, config, shutdown, source).await;
        exported.cancel();
        if let Some(export) = export {
            let _ = export.await;
        }
        served?;
        Ok(())
    })
}

/// `--demo`: the mock upstream on a free loopback port, as the only upstream.
async fn demo_upstream(config: &mut Config) -> anyhow::Result<mock_upstream::MockUpstream> {
    let options = mock_upstream::MockOptions {
        latency: std::time::Duration::from_millis(300),
        chunk_delay: std::time::Duration::from_millis(40),
        ..mock_upstream::MockOptions::default()
    };
    let mock = mock_upstream::MockUpstream::start(options)
        .await
        .context("cannot start the demo upstream")?;
    config.upstreams = vec![g_aigateway::config::UpstreamConfig {
        name: "demo".into(),
        base_url: mock.base_url(),
        api_keys: Vec::new(),
    }];
    config.default_upstream = None;
    config.models.clear();
    tracing::info!(upstream = %mock.base_url(), "demo mode: every model is answered by the bundled mock upstream");
    Ok(mock)
}

async fn cancel_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("shutdown signal received: draining");
    shutdown.cancel();
}
