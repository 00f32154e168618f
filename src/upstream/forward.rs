//! The forwarding loop over one model's route: choose a deployment (healthy,
//! balanced), lease a key, take a slot, send, classify, record the outcome on
//! the deployment's breaker and load, then move on to another deployment at
//! once or back off and retry — until an answer, the attempt limit, or the
//! deadline. A 200 stream counts as answered once its first chunk arrived (a
//! stream that breaks before it is a failed attempt); nothing is retried
//! after that.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, sleep, timeout_at};
use tracing::field::Empty;
use tracing::{Instrument, Span};

use super::balance::FAILURE_PENALTY;
use super::budget::RetryBudget;
use super::exchange::{UpstreamBody, UpstreamError, UpstreamRequest, UpstreamResponse};
use super::headers::client_response_headers;
use super::health::Phase;
use super::inflight::InFlight;
use super::pool::Lease;
use super::retry::{RetryPolicy, is_retryable, retry_after};
use super::route::{Deployment, ModelRoute, Upstream};
use crate::config::RetryConfig;
use crate::metrics::Metrics;

/// A failed attempt, kept to decide the wait and the final error.
enum Failure {
    Status {
        status: StatusCode,
        retry_after: Option<Duration>,
    },
    Timeout,
    Transport(String),
    /// The provider refused the key (401/403); it is quarantined and the
    /// next attempt, at once, uses another.
    KeyRejected(StatusCode),
    /// No key or no concurrency slot came free in time (nothing was sent).
    Busy {
        rate_limited: bool,
        retry_after: Duration,
    },
}

impl Failure {
    /// A `Retry-After` that applies to the whole upstream (a 429's is per key
    /// and already enforced by the key pool).
    fn upstream_wide_retry_after(&self) -> Option<Duration> {
        match self {
            Self::Status {
                status,
                retry_after,
            } if *status != StatusCode::TOO_MANY_REQUESTS => *retry_after,
            _ => None,
        }
    }

    fn into_error(self, upstream: &Upstream, attempts: u32) -> UpstreamError {
        let upstream = upstream.name.clone();
        match self {
            Self::Status {
                status: StatusCode::TOO_MANY_REQUESTS,
                retry_after,
            } => UpstreamError::RateLimited {
                upstream,
                attempts,
                retry_after,
            },
            Self::Status { status, .. } => UpstreamError::Unavailable {
                upstream,
                attempts,
                last: format!("status {status}"),
            },
            Self::Timeout => UpstreamError::Timeout { upstream, attempts },
            Self::Transport(last) => UpstreamError::Unavailable {
                upstream,
                attempts,
                last,
            },
            Self::KeyRejected(status) => UpstreamError::Unavailable {
                upstream,
                attempts,
                last: format!("status {status}: the provider refused the pool's keys"),
            },
            Self::Busy {
                rate_limited: true,
                retry_after,
            } => UpstreamError::RateLimited {
                upstream,
                attempts,
                retry_after: Some(retry_after),
            },
            Self::Busy { retry_after, .. } => UpstreamError::Saturated {
                upstream,
                retry_after,
            },
        }
    }
}

/// Sends requests upstream with the retry policy, within the retry budget.
pub struct Forwarder {
    http: reqwest::Client,
    policy: RetryPolicy,
    budget: RetryBudget,
    metrics: Arc<Metrics>,
}

/// Where and how one model's request goes.
pub struct Target<'a> {
    pub route: &'a ModelRoute,
    /// Shared by every model of a fallback chain.
    pub deadline: Instant,
    /// Try even if every deployment is ejected.
    pub force: bool,
}

impl Forwarder {
    pub fn new(config: &RetryConfig, metrics: Arc<Metrics>) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(config.connect_timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .build()?;
        Ok(Self {
            http,
            policy: RetryPolicy::from_config(config),
            budget: RetryBudget::new(config.budget_ratio, config.budget_min_per_sec),
            metrics,
        })
    }

    /// A lone model's target: the deadline from now, forced when every
    /// deployment is ejected.
    pub fn target<'a>(&self, route: &'a ModelRoute) -> Target<'a> {
        Target {
            route,
            deadline: self.deadline(),
            force: !route.healthy(Instant::now()),
        }
    }

    /// A request's deadline, counted from now.
    pub fn deadline(&self) -> Instant {
        Instant::now() + self.policy.deadline
    }

    /// Forwards `request` along `target`'s route: a failed attempt moves on
    /// to another healthy deployment at once, or retries with backoff when
    /// there is none — throttling, 5xx, connection errors and timeouts, within
    /// the attempt limit, the retry budget and the deadline.
    pub async fn send(
        &self,
        target: Target<'_>,
        request: &UpstreamRequest,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let Target {
            route,
            deadline,
            force,
        } = target;
        let mut attempts = 0;
        let client_retry = request.client_retry();
        self.budget.started(client_retry);
        let max_attempts = if client_retry {
            1
        } else {
            self.policy.max_attempts
        };
        let mut tried: Vec<usize> = Vec::new();
        let mut last: Option<(Failure, Arc<Deployment>)> = None;
        // Passes that sent nothing (a deployment skipped) are bounded too.
        let mut passes = 0;
        loop {
            passes += 1;
            let now = Instant::now();
            let spun = passes > 2 * (route.deployments.len() + max_attempts as usize) + 2;
            let picked = route.pick(&tried, force, now).filter(|_| !spun);
            let Some(index) = picked else {
                return Err(match last {
                    Some((failure, d)) => failure.into_error(&d.upstream, attempts),
                    None => UpstreamError::Ejected {
                        model: route
                            .deployments
                            .first()
                            .map_or_else(String::new, |d| d.route.clone()),
                    },
                });
            };
            let deployment = Arc::clone(&route.deployments[index]);
            let others = route.has_untried(&[tried.as_slice(), &[index]].concat(), now);
            let (lease, slot) = match self.admit(&deployment, route, deadline, others).await {
                Ok(admitted) => admitted,
                Err(failure) => {
                    if !others {
                        return Err(failure.into_error(&deployment.upstream, attempts));
                    }
                    tried.push(index);
                    last = Some((failure, deployment));
                    continue;
                }
            };
            // Forced: every deployment is ejected and one is tried anyway.
            if !force && !deployment.state.breaker.admit(Instant::now()) {
                // Another request took the half-open probe first.
                tried.push(index);
                continue;
            }
            attempts += 1;
            let upstream = &deployment.upstream;
            let span = crate::stage_span!(
                "upstream.attempt",
                otel.kind = "client",
                otel.status_code = Empty,
                gateway.upstream = %upstream.name,
                gateway.deployment = %deployment.label,
                gateway.retry.attempt = attempts,
                http.response.status_code = Empty,
                gateway.outcome = Empty,
            );
            self.metrics
                .upstream_choice(&deployment.route, &deployment.label);
            let in_flight = InFlight::new(Arc::clone(&deployment), slot);
            let attempt = self.attempt(&deployment, lease, request, deadline);
            let failure = match attempt.instrument(span).await {
                Ok(mut response) => {
                    response.attempts = attempts;
                    response.upstream = upstream.name.clone();
                    response.model = deployment.model.clone();
                    response.in_flight = Some(in_flight);
                    return Ok(response);
                }
                Err(failure) => failure,
            };
            drop(in_flight);
            tried.push(index);
            let elsewhere = route.has_untried(&tried, Instant::now());
            // Moving off a refused key is not a retry of the request: it
            // spends no budget, and a client's retry may do it too.
            let more = match failure {
                Failure::KeyRejected(_) => attempts < self.policy.max_attempts,
                _ if attempts >= max_attempts => false,
                _ => {
                    let granted = self.budget.try_retry();
                    if !granted {
                        self.metrics.upstream_retry_refused(&upstream.name);
                    }
                    granted
                }
            };
            if !more {
                return Err(failure.into_error(upstream, attempts));
            }
            // Another deployment is another provider: no reason to wait.
            let wait = match failure {
                Failure::KeyRejected(_) => Duration::ZERO,
                _ if elsewhere => Duration::ZERO,
                _ => self.policy.wait(
                    attempts,
                    failure.upstream_wide_retry_after(),
                    &mut rand::rng(),
                ),
            };
            if Instant::now() + wait >= deadline {
                return Err(failure.into_error(upstream, attempts));
            }
            self.metrics.upstream_retry(&upstream.name);
            last = Some((failure, Arc::clone(&deployment)));
            sleep(wait).await;
        }
    }

    /// A key and, under a cap, a concurrency slot for `deployment`. When
    /// `others` could take the request instead, nothing is waited for.
    async fn admit(
        &self,
        deployment: &Deployment,
        route: &ModelRoute,
        deadline: Instant,
        others: bool,
    ) -> Result<(Option<usize>, Option<OwnedSemaphorePermit>), Failure> {
        let lease = loop {
            match deployment.upstream.pool.lease() {
                Lease::Key(index) => break Some(index),
                Lease::Anonymous => break None,
                Lease::Wait(wait) => {
                    if others || Instant::now() + wait >= deadline {
                        return Err(Failure::Busy {
                            rate_limited: true,
                            retry_after: wait,
                        });
                    }
                    sleep(wait).await;
                }
            }
        };
        let Some(slots) = &deployment.state.slots else {
            return Ok((lease, None));
        };
        if let Ok(permit) = Arc::clone(slots).try_acquire_owned() {
            return Ok((lease, Some(permit)));
        }
        let busy = Failure::Busy {
            rate_limited: false,
            retry_after: Duration::from_secs(1),
        };
        if others {
            return Err(busy);
        }
        self.metrics
            .upstream_queued(&deployment.route, &deployment.label);
        let until = deadline.min(Instant::now() + route.queue_timeout);
        match timeout_at(until, Arc::clone(slots).acquire_owned()).await {
            Ok(Ok(permit)) => Ok((lease, Some(permit))),
            _ => Err(busy),
        }
    }

    /// One attempt, bounded by the attempt timeout and the deadline; its
    /// outcome goes to the deployment's breaker and load.
    async fn attempt(
        &self,
        deployment: &Deployment,
        lease: Option<usize>,
        request: &UpstreamRequest,
        deadline: Instant,
    ) -> Result<UpstreamResponse, Failure> {
        let upstream = &deployment.upstream;
        let started = Instant::now();
        let limit = deadline.min(started + self.policy.attempt_timeout);
        let body = request.body_for(deployment.model.as_deref());
        let result = timeout_at(limit, self.exchange(upstream, lease, request, body)).await;
        let elapsed = started.elapsed();
        let record = |outcome: &str, healthy: Option<bool>| {
            let span = Span::current();
            span.record("gateway.outcome", outcome);
            if !matches!(outcome.parse::<u16>(), Ok(status) if status < 400) {
                span.record("otel.status_code", "error");
            }
            self.metrics
                .upstream_attempt(&upstream.name, outcome, elapsed);
            let now = Instant::now();
            let failed = healthy == Some(false);
            let latency = match failed {
                true => elapsed.max(FAILURE_PENALTY),
                false => elapsed,
            };
            deployment.state.load.observe(latency, now);
            if let Some(ok) = healthy {
                self.health(deployment, ok, now);
            }
        };
        let response = match result {
            Err(_) => {
                record("timeout", Some(false));
                return Err(Failure::Timeout);
            }
            Ok(Err(e)) if e.is_timeout() => {
                record("timeout", Some(false));
                return Err(Failure::Timeout);
            }
            Ok(Err(e)) => {
                record("error", Some(false));
                return Err(Failure::Transport(describe(&e)));
            }
            Ok(Ok(None)) => {
                record("empty_stream", Some(false));
                return Err(Failure::Transport(
                    "the stream ended before its first byte".into(),
                ));
            }
            Ok(Ok(Some(response))) => response,
        };
        let status = response.status;
        // A 429 is about keys and quotas, not the deployment's health.
        let healthy = (status != StatusCode::TOO_MANY_REQUESTS).then(|| !status.is_server_error());
        record(status.as_str(), healthy);
        Span::current().record("http.response.status_code", status.as_u16());
        let refused = matches!(status.as_u16(), 401 | 403);
        if let Some(index) = lease.filter(|_| refused)
            && upstream.pool.quarantine(index, self.policy.key_quarantine)
        {
            self.metrics.upstream_key_quarantined(&upstream.name);
            tracing::warn!(
                upstream = %upstream.name,
                key = index,
                status = status.as_u16(),
                "the provider refused a pool key: quarantined, retrying with another"
            );
            return Err(Failure::KeyRejected(status));
        }
        if is_retryable(status) {
            let wait = retry_after(&response.headers, SystemTime::now())
                .map(|d| d.min(self.policy.max_retry_after));
            if let (StatusCode::TOO_MANY_REQUESTS, Some(index)) = (status, lease) {
                upstream.pool.cool_down(index, wait);
            }
            return Err(Failure::Status {
                status,
                retry_after: wait,
            });
        }
        if let Some(index) = lease {
            upstream.pool.succeeded(index);
        }
        Ok(response)
    }

    /// Feeds an outcome to the deployment's breaker; a change of phase is
    /// a metric and a log line.
    pub fn health(&self, deployment: &Deployment, ok: bool, now: Instant) {
        let Some(transition) = deployment.state.breaker.record(ok, now) else {
            return;
        };
        let (model, label) = (&deployment.route, &deployment.label);
        self.metrics.upstream_health(
            model,
            label,
            transition.to.gauge(),
            transition.to == Phase::Open,
        );
        match transition.to {
            Phase::Open => tracing::warn!(
                model = %model,
                deployment = %label,
                eject_secs = transition.for_.as_secs_f64(),
                "deployment ejected: its attempts keep failing"
            ),
            _ => tracing::info!(model = %model, deployment = %label, "deployment healthy again"),
        }
    }

    /// An active probe: `GET <base_url><path>` with a pool key; a 2xx-4xx
    /// answer (other than 429) in time is healthy.
    pub async fn probe(&self, deployment: &Deployment, path: &str) {
        let upstream = &deployment.upstream;
        let lease = match upstream.pool.lease() {
            Lease::Key(index) => Some(index),
            _ => None,
        };
        let mut builder = self
            .http
            .get(upstream.url(path))
            .timeout(self.policy.attempt_timeout);
        if let Some(key) = lease.and_then(|i| upstream.pool.header(i)) {
            builder = builder.header(header::AUTHORIZATION, key.clone());
        }
        let ok = match builder.send().await {
            Ok(response) => !response.status().is_server_error(),
            Err(_) => false,
        };
        self.metrics
            .upstream_probe(&deployment.route, &deployment.label, ok);
        self.health(deployment, ok, Instant::now());
    }

    /// Sends once; reads the whole body unless it is a 200 stream, whose
    /// first chunk is awaited (`None`: it ended or broke before one came).
    async fn exchange(
        &self,
        upstream: &Upstream,
        lease: Option<usize>,
        request: &UpstreamRequest,
        body: bytes::Bytes,
    ) -> Result<Option<UpstreamResponse>, reqwest::Error> {
        let mut headers = request.headers.clone();
        // The attempt's own span is the upstream's parent when traces are on;
        // otherwise the client's traceparent passes through unchanged.
        if let Some(parent) = crate::telemetry::traceparent(&Span::current())
            .and_then(|tp| HeaderValue::from_str(&tp).ok())
        {
            headers.insert(HeaderName::from_static("traceparent"), parent);
        }
        let mut builder = self
            .http
            .request(request.method.clone(), upstream.url(&request.path))
            .headers(headers)
            .body(body);
        if let Some(key) = lease.and_then(|i| upstream.pool.header(i)) {
            builder = builder.header(header::AUTHORIZATION, key.clone());
        }
        let mut response = builder.send().await?;
        let status = response.status();
        let headers: HeaderMap = client_response_headers(response.headers());
        let body = if request.stream && status == StatusCode::OK {
            let first = loop {
                match response.chunk().await {
                    Ok(Some(chunk)) if chunk.is_empty() => continue,
                    Ok(Some(chunk)) => break chunk,
                    Ok(None) | Err(_) => return Ok(None),
                }
            };
            UpstreamBody::Stream(first, response)
        } else {
            UpstreamBody::Full(response.bytes().await?)
        };
        Ok(Some(UpstreamResponse {
            status,
            headers,
            body,
            attempts: 0,
            upstream: String::new(),
            model: None,
            in_flight: None,
        }))
    }
}

/// A short reason for logs and error bodies; reqwest's messages name no secrets.
fn describe(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "connection failed".into()
    } else if e.is_body() || e.is_decode() {
        "response body was cut".into()
    } else {
        "request failed".into()
    }
}
