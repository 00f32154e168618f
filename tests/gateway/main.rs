//! Integration tests: the real gateway over real HTTP against the mock upstream.

mod cache;
mod cli;
mod cluster;
mod errors;
mod hostile;
mod observe;
mod proxy;
mod ratelimit;
mod redis;
mod retry;
mod routing;
mod semantic;
mod shutdown;
mod support;
mod traces;
mod verifier;
