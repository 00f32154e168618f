use std::path::Path;

use super::*;

fn env(pairs: &[(&str, &str)]) -> Env {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn toml(text: &str) -> Config {
    Config::from_toml(text, Path::new("test.toml")).expect("valid toml")
}

fn load_text(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let mut config = toml(text);
    env::apply(&mut config, &env(vars))?;
    validate::validate(&config)?;
    Ok(config)
}

#[test]
fn defaults_alone_are_valid_and_bind_loopback_when_open() {
    let config = Config::load(None, &Env::new()).expect("defaults are valid");
    assert!(config.is_open());
    assert_eq!(config.bind_addr().to_string(), "127.0.0.1:8080");
    assert_eq!(config.server.max_body_bytes, 8 * 1024 * 1024);
    assert_eq!(config.default_upstream_name(), Some("default"));
}

#[test]
fn file_values_override_defaults_and_keep_unset_defaults() {
    let config = load_text("[server]\nport = 9000\n[retry]\nmax_attempts = 5\n", &[]).unwrap();
    assert_eq!(config.server.port, 9000);
    assert_eq!(config.retry.max_attempts, 5);
    assert_eq!(
        config.retry.base_delay_ms,
        RetryConfig::default().base_delay_ms
    );
}

#[test]
fn environment_overrides_file() {
    let config = load_text(
        "[server]\nport = 9000\n",
        &[("PORT", "9100"), ("GATEWAY_RETRY_MAX_ATTEMPTS", "2")],
    )
    .unwrap();
    assert_eq!(config.server.port, 9100);
    assert_eq!(config.retry.max_attempts, 2);
}

#[test]
fn go_gateway_variables_configure_the_default_upstream() {
    let config = load_text(
        "",
        &[
            ("TARGET_URL", "https://api.example.com/"),
            ("DEEPSEEK_API_KEY", "sk-1, sk-2"),
            ("REDIS_URL", "redis://127.0.0.1:6379/0"),
            ("EMBEDDING_URL", "http://embed.local/v1"),
            ("EMBEDDING_MODEL", "text-embedding-3-small"),
        ],
    )
    .unwrap();
    let upstream = &config.upstreams[0];
    assert_eq!(upstream.base_url, "https://api.example.com/v1");
    let keys: Vec<_> = upstream.api_keys.iter().map(Secret::expose).collect();
    assert_eq!(keys, ["sk-1", "sk-2"]);
    assert!(config.redis.url.is_some());
    assert_eq!(
        config.embedding.model.as_deref(),
        Some("text-embedding-3-small")
    );
}

#[test]
fn target_url_updates_the_named_default_upstream_of_the_file() {
    let text = r#"
default_upstream = "b"
[[upstreams]]
name = "a"
base_url = "http://a.local/v1"
[[upstreams]]
name = "b"
base_url = "http://b.local/v1"
"#;
    let config = load_text(text, &[("TARGET_URL", "http://c.local/v1")]).unwrap();
    assert_eq!(config.upstreams[0].base_url, "http://a.local/v1");
    assert_eq!(config.upstreams[1].base_url, "http://c.local/v1");
}

#[test]
fn gateway_keys_from_env_create_tenants_and_bind_all_interfaces() {
    let config = load_text("", &[("GATEWAY_API_KEYS", "team-a=k1,team-a=k2,k3")]).unwrap();
    assert_eq!(config.tenants.len(), 2);
    assert_eq!(config.tenants[0].name, "team-a");
    assert_eq!(config.tenants[0].api_keys.len(), 2);
    assert_eq!(config.tenants[1].name, "default");
    assert_eq!(config.bind_addr().to_string(), "0.0.0.0:8080");
}

#[test]
fn explicit_listen_wins_even_when_open() {
    let config = load_text("", &[("GATEWAY_LISTEN", "0.0.0.0:7000")]).unwrap();
    assert_eq!(config.bind_addr().to_string(), "0.0.0.0:7000");
}

#[test]
fn empty_environment_values_count_as_unset() {
    let config = load_text("[server]\nport = 9000\n", &[("PORT", "  ")]).unwrap();
    assert_eq!(config.server.port, 9000);
}

#[test]
fn bad_values_are_reported_with_their_name() {
    let err = load_text("", &[("PORT", "eighty")]).unwrap_err();
    assert!(err.to_string().contains("PORT"), "{err}");
    let err = load_text("", &[("TARGET_URL", "ftp://x")]).unwrap_err();
    assert!(err.to_string().contains("http"), "{err}");
    let err = load_text("", &[("REDIS_URL", "http://x")]).unwrap_err();
    assert!(err.to_string().contains("REDIS_URL"), "{err}");
}

#[test]
fn unknown_fields_and_broken_references_are_rejected() {
    let err = Config::from_toml("[server]\nprot = 1\n", Path::new("x.toml")).unwrap_err();
    assert!(err.to_string().contains("prot"), "{err}");
    let err = load_text("[models]\n\"gpt-4o\" = \"nowhere\"\n", &[]).unwrap_err();
    assert!(err.to_string().contains("nowhere"), "{err}");
    let err = load_text("[retry]\nmax_attempts = 0\n", &[]).unwrap_err();
    assert!(err.to_string().contains("max_attempts"), "{err}");
}

#[test]
fn duplicate_gateway_keys_are_rejected() {
    let text = r#"
[[tenants]]
name = "a"
api_keys = ["same"]
[[tenants]]
name = "b"
api_keys = ["same"]
"#;
    assert!(load_text(text, &[]).is_err());
}

#[test]
fn secrets_never_show_in_debug_output() {
    let config = load_text("", &[("DEEPSEEK_API_KEY", "sk-very-secret")]).unwrap();
    let dump = format!("{config:?}");
    assert!(!dump.contains("sk-very-secret"));
}

#[test]
fn missing_config_file_is_a_clear_error() {
    let err = Config::load(Some(Path::new("/nonexistent/gw.toml")), &Env::new()).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/gw.toml"), "{err}");
}

#[test]
fn the_example_config_file_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/gateway.toml");
    let config = Config::load(Some(&path), &Env::new()).expect("example config loads");
    assert!(!config.tenants.is_empty());
}

#[test]
fn a_redis_cluster_takes_several_seed_urls_and_a_single_redis_does_not() {
    let seeds = "redis://10.0.0.1:6379, redis://10.0.0.2:6379";
    let err = load_text("", &[("REDIS_URL", seeds)]).unwrap_err();
    assert!(err.to_string().contains("redis.cluster"), "{err}");
    let config = load_text("", &[("REDIS_URL", seeds), ("REDIS_CLUSTER", "true")]).unwrap();
    assert!(config.redis.cluster);
    let err = load_text(
        "",
        &[
            ("REDIS_URL", "redis://a,http://b"),
            ("REDIS_CLUSTER", "true"),
        ],
    )
    .unwrap_err();
    assert!(err.to_string().contains("redis://"), "{err}");
}

#[test]
fn the_node_id_names_a_file_so_it_is_checked() {
    let config = load_text("", &[("GATEWAY_NODE_ID", "gw-1.eu")]).unwrap();
    assert_eq!(config.cluster.node(), "gw-1.eu");
    for bad in ["../etc", "a b", "x/y"] {
        let err = load_text("", &[("GATEWAY_NODE_ID", bad)]).unwrap_err();
        assert!(err.to_string().contains("GATEWAY_NODE_ID"), "{bad}: {err}");
    }
    let err = load_text("[cluster]\nread_batch = 0\n", &[]).unwrap_err();
    assert!(err.to_string().contains("read_batch"), "{err}");
}

#[test]
fn fallback_chains_are_read_and_bad_ones_refused() {
    let config = load_text(
        "[fallbacks]\n\"gpt-4o\" = [\"deepseek-chat\", \"mock-b\"]\n",
        &[],
    )
    .unwrap();
    assert_eq!(config.fallbacks["gpt-4o"], ["deepseek-chat", "mock-b"]);
    for bad in [
        "[fallbacks]\n\"gpt-4o\" = []\n",
        "[fallbacks]\n\"gpt-4o\" = [\"gpt-4o\"]\n",
        "[fallbacks]\n\"gpt-4o\" = [\"a\", \"a\"]\n",
        "[fallbacks]\n\"gpt-4o\" = [\"\"]\n",
    ] {
        let err = load_text(bad, &[]).unwrap_err();
        assert!(err.to_string().contains("fallbacks"), "{bad}: {err}");
    }
}

#[test]
fn a_model_maps_to_an_upstream_or_to_deployments_with_a_chain() {
    let text = r#"
[[upstreams]]
name = "a"
base_url = "http://a/v1"
[[upstreams]]
name = "b"
base_url = "http://b/v1"

[models]
"short" = "b"
[models."gpt-4o"]
deployments = [
  { upstream = "a", weight = 3 },
  { upstream = "b", model = "gpt-4o-2024", max_in_flight = 8 },
]
fallbacks = ["short"]

[routing]
balancer = "weighted"
cache_fallbacks = true
[routing.breaker]
consecutive_failures = 2
"#;
    let config = load_text(text, &[]).unwrap();
    assert_eq!(config.models["short"], ModelTarget::from("b"));
    let table = &config.models["gpt-4o"];
    let deployments = table.deployments();
    assert_eq!(deployments.len(), 2);
    assert_eq!((deployments[0].weight, deployments[1].weight), (3, 1));
    assert_eq!(deployments[1].model.as_deref(), Some("gpt-4o-2024"));
    assert_eq!(deployments[1].max_in_flight, Some(8));
    assert_eq!(table.fallbacks(), ["short"]);
    assert_eq!(config.routing.balancer, Balancer::Weighted);
    assert!(config.routing.cache_fallbacks);
    assert_eq!(config.routing.breaker.consecutive_failures, 2);
    assert_eq!(
        config.routing.breaker.eject_secs, 5,
        "unset keys keep defaults"
    );
    let upstreams = "[[upstreams]]\nname = \"a\"\nbase_url = \"http://a/v1\"\n";
    for (bad, says) in [
        ("[models.m]\ndeployments = []\n", "no deployments"),
        ("[models.m]\ndeployments = [{ upstream = \"zz\" }]\n", "zz"),
        (
            "[models.m]\ndeployments = [{ upstream = \"a\", weight = 0 }]\n",
            "weight",
        ),
        (
            "[models.m]\ndeployments = [{ upstream = \"a\", max_in_flight = 0 }]\n",
            "max_in_flight",
        ),
        (
            "[models.m]\ndeployments = [{ upstream = \"a\" }]\nfallbacks = [\"m\"]\n",
            "fallbacks",
        ),
        ("[routing.breaker]\nfailure_ratio = 1.5\n", "failure_ratio"),
        ("[routing]\nprobe_path = \"models\"\n", "probe_path"),
    ] {
        let err = load_text(&format!("{upstreams}{bad}"), &[]).unwrap_err();
        assert!(err.to_string().contains(says), "{bad}: {err}");
    }
    // A typo in a deployment is an error, not a silently ignored key.
    let typo =
        format!("{upstreams}[models.m]\ndeployments = [{{ upstream = \"a\", wieght = 2 }}]\n");
    let err = Config::from_toml(&typo, Path::new("t.toml")).unwrap_err();
    assert!(err.to_string().contains("wieght"), "{err}");
}

#[test]
fn vetoes_are_named_and_an_unknown_one_is_refused() {
    let config = load_text(
        "[semantic]\nvetoes = [\"numbers\", \"direction\", \"question\"]\n",
        &[],
    )
    .unwrap();
    assert_eq!(
        config.semantic.vetoes,
        vec![Guard::Numbers, Guard::Direction, Guard::Question]
    );
    let config = load_text("[semantic]\nvetoes = [\"antonyms\", \"names\"]\n", &[]).unwrap();
    assert_eq!(config.semantic.vetoes, vec![Guard::Antonyms, Guard::Names]);
    let err =
        Config::from_toml("[semantic]\nvetoes = [\"tense\"]\n", Path::new("x.toml")).unwrap_err();
    assert!(err.to_string().contains("tense"), "{err}");
}
