//! What upstream calls cost and what the caches saved, in dollars: a price
//! table (per model, input and output price per million tokens; `prefix*`
//! patterns; a documented default table for common models, overridden or
//! extended by `[prices]`) turns usage into `gateway_cost_usd_total` and hits
//! into `gateway_cost_saved_usd_total` (the original answer's usage at the
//! asked model's price). Per-tenant totals feed `/admin/stats`.

use arc_swap::ArcSwap;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;

use crate::cache::Usage;
use crate::config::Price;
use crate::metrics::Metrics;

/// List prices (USD per million tokens, input / output) of common models,
/// used unless `[prices]` says otherwise. Check them against your contract.
pub const DEFAULT_PRICES: &[(&str, f64, f64)] = &[
    ("gpt-4o", 2.50, 10.00),
    ("gpt-4o-2024-*", 2.50, 10.00),
    ("gpt-4o-mini*", 0.15, 0.60),
    ("gpt-4.1", 2.00, 8.00),
    ("gpt-4.1-mini*", 0.40, 1.60),
    ("gpt-4.1-nano*", 0.10, 0.40),
    ("o3", 2.00, 8.00),
    ("o4-mini*", 1.10, 4.40),
    ("deepseek-chat", 0.27, 1.10),
    ("deepseek-reasoner", 0.55, 2.19),
    ("claude-sonnet-4*", 3.00, 15.00),
    ("claude-3-5-haiku*", 0.80, 4.00),
    ("text-embedding-3-small", 0.02, 0.0),
    ("text-embedding-3-large", 0.13, 0.0),
];

/// Prices by model: exact names, then the longest matching prefix.
pub struct PriceTable {
    exact: HashMap<String, Price>,
    prefixes: Vec<(String, Price)>,
}

impl PriceTable {
    /// The defaults, overridden and extended by `configured`.
    pub fn new(configured: &BTreeMap<String, Price>) -> Self {
        let mut all: BTreeMap<String, Price> = DEFAULT_PRICES
            .iter()
            .map(|(m, input, output)| {
                let price = Price {
                    input: *input,
                    output: *output,
                };
                (m.to_string(), price)
            })
            .collect();
        all.extend(configured.iter().map(|(k, v)| (k.clone(), *v)));
        let (mut exact, mut prefixes) = (HashMap::new(), Vec::new());
        for (pattern, price) in all {
            match pattern.strip_suffix('*') {
                Some(prefix) => prefixes.push((prefix.to_string(), price)),
                None => {
                    exact.insert(pattern, price);
                }
            }
        }
        prefixes.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        Self { exact, prefixes }
    }

    pub fn price(&self, model: &str) -> Option<Price> {
        self.exact.get(model).copied().or_else(|| {
            self.prefixes
                .iter()
                .find(|(p, _)| model.starts_with(p.as_str()))
                .map(|(_, price)| *price)
        })
    }

    /// Dollars of `usage` for `model` (0 for a model without a price).
    pub fn dollars(&self, model: &str, usage: Usage) -> f64 {
        self.price(model).map_or(0.0, |p| {
            (usage.prompt as f64 * p.input + usage.completion as f64 * p.output) / 1e6
        })
    }
}

/// One tenant's totals since this node started.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct TenantCosts {
    pub cost_usd: f64,
    pub saved_usd: f64,
    pub tokens_saved: u64,
}

/// The cost stage: prices, metrics and per-tenant totals.
pub struct Costs {
    /// Swapped whole by a configuration reload.
    prices: ArcSwap<PriceTable>,
    metrics: Arc<Metrics>,
    tenants: Mutex<BTreeMap<String, TenantCosts>>,
}

impl Costs {
    pub fn new(prices: PriceTable, metrics: Arc<Metrics>) -> Self {
        Self {
            prices: ArcSwap::from_pointee(prices),
            metrics,
            tenants: Mutex::new(BTreeMap::new()),
        }
    }

    /// New prices from now on (a reload).
    pub fn set_prices(&self, prices: PriceTable) {
        self.prices.store(Arc::new(prices));
    }

    fn tally(&self, tenant: &str, f: impl FnOnce(&mut TenantCosts)) {
        let mut tenants = self.tenants.lock().unwrap_or_else(PoisonError::into_inner);
        f(tenants.entry(tenant.to_string()).or_default());
    }

    /// An upstream answer with this usage.
    pub fn spent(&self, tenant: &str, model: &str, usage: Usage) {
        let dollars = self.prices.load().dollars(model, usage);
        self.metrics.cost(tenant, model, dollars);
        self.tally(tenant, |t| t.cost_usd += dollars);
    }

    /// A hit of `tier` answered with an entry that cost `usage` upstream.
    pub fn saved(&self, tenant: &str, model: &str, tier: &'static str, usage: Usage) {
        let dollars = self.prices.load().dollars(model, usage);
        self.metrics.cost_saved(tenant, tier, dollars);
        self.tally(tenant, |t| {
            t.saved_usd += dollars;
            t.tokens_saved += usage.prompt + usage.completion;
        });
    }

    pub fn by_tenant(&self) -> BTreeMap<String, TenantCosts> {
        self.tenants
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_are_priced_exactly_then_by_the_longest_prefix_and_config_wins() {
        let mut configured = BTreeMap::new();
        configured.insert(
            "gpt-4o".to_string(),
            Price {
                input: 1.0,
                output: 2.0,
            },
        );
        configured.insert(
            "my-*".to_string(),
            Price {
                input: 10.0,
                output: 20.0,
            },
        );
        let table = PriceTable::new(&configured);
        assert_eq!(table.price("gpt-4o").map(|p| p.input), Some(1.0));
        assert_eq!(
            table.price("gpt-4o-mini-2024-07-18").map(|p| p.input),
            Some(0.15)
        );
        assert_eq!(table.price("my-model").map(|p| p.output), Some(20.0));
        assert_eq!(table.price("unknown"), None);
        let usage = Usage {
            prompt: 1_000_000,
            completion: 500_000,
        };
        assert!((table.dollars("my-model", usage) - 20.0).abs() < 1e-9);
        assert_eq!(table.dollars("unknown", usage), 0.0);
    }
}
