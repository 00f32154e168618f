//! Upstream providers and the routing table: each model name (exact, or a
//! `"prefix*"` pattern, or the default) maps to a route — its deployments and
//! its fallback chain. A deployment is one upstream serving the model under
//! some name, with its weight, its concurrency cap, its circuit breaker and
//! its load. Rebuilding the table (a reload) keeps the key pools, breakers and
//! loads of what did not change.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::balance::{Candidate, Load, choose};
use super::health::Breaker;
use super::pool::KeyPool;
use crate::config::{Balancer, Config, DeploymentConfig, Secret};

/// One provider: where to send requests and which keys to use.
pub struct Upstream {
    pub name: String,
    base_url: String,
    pub pool: KeyPool,
    /// What the pool was built from, to keep it across a reload.
    keys: Vec<Secret>,
}

impl Upstream {
    /// Full URL for an API path such as `/chat/completions`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }
}

/// The state of a deployment that outlives a reload when the deployment
/// does not change.
pub struct DeploymentState {
    pub breaker: Breaker,
    pub load: Load,
    /// The concurrency cap's permits.
    pub slots: Option<Arc<Semaphore>>,
}

/// A model served by one upstream.
pub struct Deployment {
    pub upstream: Arc<Upstream>,
    /// The model name sent there; `None`: the name the request carries.
    pub model: Option<String>,
    pub weight: u32,
    /// `model` label of the metrics: the route's key.
    pub route: String,
    /// `deployment` label of the metrics: `upstream` or `upstream/model`.
    pub label: String,
    pub state: Arc<DeploymentState>,
    /// Identity across reloads.
    key: String,
}

impl Candidate for Arc<Deployment> {
    fn weight(&self) -> u32 {
        self.weight
    }
    fn load(&self) -> &Load {
        &self.state.load
    }
}

impl Deployment {
    /// Whether a request may go here now: the breaker lets it and, under a
    /// cap, a slot is free (`need_slot`).
    fn open_to(&self, now: Instant, need_slot: bool) -> bool {
        self.state.breaker.available(now)
            && (!need_slot
                || self
                    .state
                    .slots
                    .as_ref()
                    .is_none_or(|s| s.available_permits() > 0))
    }
}

/// A model's deployments and fallback chain.
pub struct ModelRoute {
    pub deployments: Vec<Arc<Deployment>>,
    pub fallbacks: Vec<String>,
    pub balancer: Balancer,
    pub queue_timeout: Duration,
}

impl ModelRoute {
    /// Whether any deployment would take a request now.
    pub fn healthy(&self, now: Instant) -> bool {
        self.deployments
            .iter()
            .any(|d| d.state.breaker.available(now))
    }

    /// The deployment for the next attempt, preferring those not `tried`
    /// yet and, among them, those with a free slot; `force` ignores the
    /// breakers (every deployment of every model in the chain is ejected:
    /// trying is better than refusing). `None`: every deployment is ejected.
    pub fn pick(&self, tried: &[usize], force: bool, now: Instant) -> Option<usize> {
        // Untried with a free slot, then untried, then any that is open.
        for pass in 0..3 {
            let eligible = |i: usize, d: &Deployment| match pass {
                0 => !tried.contains(&i) && d.open_to(now, true),
                1 => !tried.contains(&i) && d.open_to(now, false),
                _ => d.open_to(now, false),
            };
            let (indices, candidates): (Vec<usize>, Vec<Arc<Deployment>>) = self
                .deployments
                .iter()
                .enumerate()
                .filter(|(i, d)| eligible(*i, d))
                .map(|(i, d)| (i, Arc::clone(d)))
                .unzip();
            if let Some(c) = choose(&candidates, self.balancer, now, &mut rand::rng()) {
                return Some(indices[c]);
            }
        }
        if force {
            let all = &self.deployments;
            let fresh: Vec<usize> = (0..all.len()).filter(|i| !tried.contains(i)).collect();
            let from = if fresh.is_empty() {
                (0..all.len()).collect()
            } else {
                fresh
            };
            return from.get(rand::random_range(0..from.len().max(1))).copied();
        }
        None
    }

    /// Whether a deployment other than those `tried` would take a request.
    pub fn has_untried(&self, tried: &[usize], now: Instant) -> bool {
        self.deployments
            .iter()
            .enumerate()
            .any(|(i, d)| !tried.contains(&i) && d.open_to(now, false))
    }
}

/// A model mapped to an upstream that does not exist (configuration
/// validation rules it out; this guards the table's construction).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("a model maps to an unknown upstream")]
pub struct RoutingError;

/// All upstreams and the model → route table.
pub struct Upstreams {
    list: Vec<Arc<Upstream>>,
    default: Arc<ModelRoute>,
    exact: HashMap<String, Arc<ModelRoute>>,
    /// `(prefix, route)` for `"prefix*"` patterns, longest prefix first.
    prefixes: Vec<(String, Arc<ModelRoute>)>,
    /// `[fallbacks]`: chains by requested model name.
    fallbacks: BTreeMap<String, Vec<String>>,
    pub cache_fallbacks: bool,
}

impl Upstreams {
    /// Builds the table from a validated config.
    pub fn from_config(config: &Config) -> Result<Self, RoutingError> {
        Self::rebuild(config, None)
    }

    /// Builds the table, keeping `previous`'s key pools and deployment
    /// states where nothing about them changed.
    pub fn rebuild(config: &Config, previous: Option<&Self>) -> Result<Self, RoutingError> {
        let retry = &config.retry;
        let base = Duration::from_millis(retry.key_cooldown_ms);
        let max = Duration::from_secs(retry.max_retry_after_secs).max(base);
        let list: Vec<_> = config
            .upstreams
            .iter()
            .map(|u| {
                let base_url = u.base_url.trim_end_matches('/').to_string();
                let kept = previous.and_then(|p| {
                    p.list.iter().find(|old| {
                        old.name == u.name && old.base_url == base_url && old.keys == u.api_keys
                    })
                });
                match kept {
                    Some(old) => Arc::clone(old),
                    None => Arc::new(Upstream {
                        name: u.name.clone(),
                        base_url,
                        pool: KeyPool::new(&u.api_keys, base, max),
                        keys: u.api_keys.clone(),
                    }),
                }
            })
            .collect();
        let states: HashMap<&str, &Arc<DeploymentState>> = previous
            .into_iter()
            .flat_map(|p| p.routes())
            .flat_map(|r| r.deployments.iter())
            .map(|d| (d.key.as_str(), &d.state))
            .collect();
        let build = |key: &str, deployments: &[DeploymentConfig], fallbacks: &[String]| {
            let mut built = Vec::new();
            for d in deployments {
                let upstream = list
                    .iter()
                    .find(|u| u.name == d.upstream)
                    .ok_or(RoutingError)?;
                let identity = format!(
                    "{key}|{}|{}|{:?}|{:?}|{:?}",
                    upstream.name,
                    upstream.base_url,
                    d.model,
                    d.max_in_flight,
                    config.routing.breaker
                );
                let state = match states.get(identity.as_str()) {
                    Some(state) => Arc::clone(state),
                    None => Arc::new(DeploymentState {
                        breaker: Breaker::new(
                            &config.routing.breaker,
                            Duration::from_secs(retry.attempt_timeout_secs),
                        ),
                        load: Load::default(),
                        slots: d
                            .max_in_flight
                            .map(|n| Arc::new(Semaphore::new(n as usize))),
                    }),
                };
                let label = match &d.model {
                    Some(model) => format!("{}/{model}", upstream.name),
                    None => upstream.name.clone(),
                };
                built.push(Arc::new(Deployment {
                    upstream: Arc::clone(upstream),
                    model: d.model.clone(),
                    weight: d.weight.max(1),
                    route: key.to_string(),
                    label,
                    state,
                    key: identity,
                }));
            }
            Ok::<_, RoutingError>(Arc::new(ModelRoute {
                deployments: built,
                fallbacks: fallbacks.to_vec(),
                balancer: config.routing.balancer,
                queue_timeout: Duration::from_millis(config.routing.queue_timeout_ms),
            }))
        };
        let default_name = config.default_upstream_name().ok_or(RoutingError)?;
        let default = build("*", &[DeploymentConfig::on(default_name)], &[])?;
        let mut exact = HashMap::new();
        let mut prefixes = Vec::new();
        for (model, target) in &config.models {
            let route = build(model, &target.deployments(), target.fallbacks())?;
            match model.strip_suffix('*') {
                Some(prefix) => prefixes.push((prefix.to_string(), route)),
                None => {
                    exact.insert(model.clone(), route);
                }
            }
        }
        prefixes.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        Ok(Self {
            list,
            default,
            exact,
            prefixes,
            fallbacks: config.fallbacks.clone(),
            cache_fallbacks: config.routing.cache_fallbacks,
        })
    }

    fn routes(&self) -> impl Iterator<Item = &Arc<ModelRoute>> {
        std::iter::once(&self.default)
            .chain(self.exact.values())
            .chain(self.prefixes.iter().map(|(_, r)| r))
    }

    /// Every deployment, once (active probes, metrics).
    pub fn deployments(&self) -> impl Iterator<Item = &Arc<Deployment>> {
        self.routes().flat_map(|r| r.deployments.iter())
    }

    /// The route serving `model`: exact mapping, then longest prefix, then default.
    pub fn route(&self, model: Option<&str>) -> &Arc<ModelRoute> {
        model
            .and_then(|m| {
                self.exact.get(m).or_else(|| {
                    self.prefixes
                        .iter()
                        .find(|(p, _)| m.starts_with(p.as_str()))
                        .map(|(_, r)| r)
                })
            })
            .unwrap_or(&self.default)
    }

    /// The models to try after `model`, in order: its route's own chain
    /// (an exact mapping's), then its `[fallbacks]` entry, without repeats.
    pub fn fallbacks(&self, model: &str) -> Vec<String> {
        let own = self.exact.get(model).map(|r| r.fallbacks.as_slice());
        let listed = self.fallbacks.get(model).map(Vec::as_slice);
        let mut chain: Vec<String> = Vec::new();
        for next in own.into_iter().chain(listed).flatten() {
            if next != model && !chain.contains(next) {
                chain.push(next.clone());
            }
        }
        chain
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ModelDeployments, ModelTarget, UpstreamConfig};

    fn config() -> Config {
        let upstream = |name: &str| UpstreamConfig {
            name: name.into(),
            base_url: format!("http://{name}.invalid/v1/"),
            api_keys: vec![Secret::new("k")],
        };
        let mut config = Config {
            upstreams: vec![upstream("a"), upstream("b")],
            ..Config::default()
        };
        config.models.insert(
            "gpt-4o".into(),
            ModelTarget::Deployments(ModelDeployments {
                deployments: vec![
                    DeploymentConfig::on("a"),
                    DeploymentConfig {
                        model: Some("gpt-4o-2024".into()),
                        weight: 3,
                        ..DeploymentConfig::on("b")
                    },
                ],
                fallbacks: vec!["cheap".into()],
            }),
        );
        config.models.insert("gpt-*".into(), "b".into());
        config
            .fallbacks
            .insert("gpt-4o".into(), vec!["cheap".into(), "other".into()]);
        config
    }

    #[test]
    fn models_resolve_to_their_deployments_and_chains() {
        let table = Upstreams::from_config(&config()).expect("valid");
        let route = table.route(Some("gpt-4o"));
        let labels: Vec<_> = route.deployments.iter().map(|d| d.label.as_str()).collect();
        assert_eq!(labels, ["a", "b/gpt-4o-2024"]);
        assert_eq!(
            route.deployments[0].upstream.url("/x"),
            "http://a.invalid/v1/x"
        );
        assert_eq!(table.fallbacks("gpt-4o"), ["cheap", "other"]);
        assert_eq!(table.route(Some("gpt-3.5")).deployments[0].label, "b");
        assert_eq!(table.route(Some("llama")).deployments[0].route, "*");
        assert!(table.fallbacks("llama").is_empty());
    }

    #[test]
    fn a_rebuild_keeps_what_did_not_change() {
        let old = Upstreams::from_config(&config()).expect("valid");
        let mut changed = config();
        changed.upstreams[1].base_url = "http://moved.invalid/v1".into();
        let new = Upstreams::rebuild(&changed, Some(&old)).expect("valid");
        let (o, n) = (old.route(Some("gpt-4o")), new.route(Some("gpt-4o")));
        assert!(Arc::ptr_eq(
            &o.deployments[0].state,
            &n.deployments[0].state
        ));
        assert!(Arc::ptr_eq(
            &o.deployments[0].upstream,
            &n.deployments[0].upstream
        ));
        assert!(!Arc::ptr_eq(
            &o.deployments[1].state,
            &n.deployments[1].state
        ));
        assert_eq!(n.deployments[1].upstream.url(""), "http://moved.invalid/v1");
    }

    #[test]
    fn picks_prefer_untried_and_skip_ejected_deployments() {
        let table = Upstreams::from_config(&config()).expect("valid");
        let route = table.route(Some("gpt-4o"));
        let now = Instant::now();
        for _ in 0..50 {
            assert_eq!(route.pick(&[1], false, now), Some(0));
        }
        for _ in 0..5 {
            route.deployments[0].state.breaker.record(false, now);
        }
        assert!(!route.deployments[0].state.breaker.available(now));
        assert_eq!(
            route.pick(&[1], false, now),
            Some(1),
            "a tried one beats an ejected one"
        );
        for _ in 0..5 {
            route.deployments[1].state.breaker.record(false, now);
        }
        assert!(!route.healthy(now));
        assert_eq!(route.pick(&[], false, now), None);
        assert!(route.pick(&[], true, now).is_some(), "forced");
    }
}
