//! Integration tests: the real gateway over real HTTP against the mock upstream.

mod cli;
mod errors;
mod proxy;
mod retry;
mod shutdown;
mod support;
