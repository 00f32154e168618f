//! Reads the real token usage out of a passing SSE stream (the usage chunk of
//! `stream_options.include_usage`) and settles the rate-limit charge with it
//! when the stream ends. Chains to another observer (the cache capture).

use bytes::Bytes;
use serde_json::Value;

use super::charge::Charge;
use crate::cache::Usage;
use crate::upstream::StreamObserver;

/// Told the stream's usage when it ends with one (the cost stage).
pub type OnUsage = Box<dyn FnOnce(Usage) + Send>;

/// Longest SSE line kept while looking for usage; longer lines are content.
const MAX_LINE: usize = 64 * 1024;

pub struct UsageWatch {
    charge: Charge,
    usage: Option<Usage>,
    on_usage: Option<OnUsage>,
    partial: Vec<u8>,
    total_tokens: Option<u64>,
    next: Option<Box<dyn StreamObserver>>,
}

impl UsageWatch {
    pub fn new(
        charge: Charge,
        on_usage: Option<OnUsage>,
        next: Option<Box<dyn StreamObserver>>,
    ) -> Self {
        Self {
            charge,
            usage: None,
            on_usage,
            partial: Vec::new(),
            total_tokens: None,
            next,
        }
    }

    fn scan_line(&mut self, line: &[u8]) {
        let Some(data) = line.strip_prefix(b"data:") else {
            return;
        };
        if !data.windows(7).any(|w| w == b"\"usage\"") {
            return;
        }
        let Ok(event) = serde_json::from_slice::<Value>(data.trim_ascii()) else {
            return;
        };
        // A chat usage chunk, or the Responses API's `response.completed`.
        let holder = match event["usage"].is_object() {
            true => &event,
            false => &event["response"],
        };
        if let Some(total) = total_tokens(&holder["usage"]) {
            self.total_tokens = Some(total);
            self.usage = Some(Usage::of(holder));
        }
    }
}

/// `total_tokens`, or prompt + completion.
pub fn total_tokens(usage: &Value) -> Option<u64> {
    usage["total_tokens"]
        .as_u64()
        .or_else(|| Some(usage["prompt_tokens"].as_u64()? + usage["completion_tokens"].as_u64()?))
}

impl StreamObserver for UsageWatch {
    fn chunk(&mut self, bytes: &Bytes) {
        let mut rest: &[u8] = bytes;
        while let Some(end) = rest.iter().position(|b| *b == b'\n') {
            let mut line = std::mem::take(&mut self.partial);
            line.extend_from_slice(&rest[..end]);
            self.scan_line(&line);
            rest = &rest[end + 1..];
        }
        if self.partial.len() + rest.len() <= MAX_LINE {
            self.partial.extend_from_slice(rest);
        } else {
            self.partial.clear();
        }
        if let Some(next) = self.next.as_mut() {
            next.chunk(bytes);
        }
    }

    fn end(mut self: Box<Self>, clean: bool) {
        self.charge.spent(self.total_tokens);
        if let (Some(usage), Some(on_usage)) = (self.usage, self.on_usage.take()) {
            on_usage(usage);
        }
        if let Some(next) = self.next.take() {
            next.end(clean);
        }
    }
}
