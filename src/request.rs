//! The body stage: reading the body (decoded, bounded in size and time) and
//! parsing the few fields the gateway needs (400 when they are malformed);
//! every other field is forwarded untouched.

mod body;
mod parse;

pub use body::{BodyLimits, RequestError, read_body};
pub use parse::ApiRequest;
