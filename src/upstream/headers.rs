//! Which headers cross the gateway: hop-by-hop headers never do, the client's
//! gateway key never goes upstream, and provider cookies never reach clients.

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};

/// RFC 9110 §7.6.1 connection-specific headers.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
];

/// Headers of the client request that are not forwarded upstream besides hop-by-hop.
const NOT_UPSTREAM: &[&str] = &[
    "host",
    "authorization",
    "content-length",
    // The body goes upstream decoded (the body stage decodes it).
    "content-encoding",
    "accept-encoding",
    "cookie",
    "x-request-id",
];

/// Headers of the upstream response not passed to clients besides hop-by-hop.
const NOT_DOWNSTREAM: &[&str] = &["content-length", "set-cookie", "x-request-id"];

fn is_hop_by_hop(name: &HeaderName, connection: &[String]) -> bool {
    let n = name.as_str();
    HOP_BY_HOP.contains(&n) || connection.iter().any(|c| c == n)
}

/// Header names listed in `Connection`, which are hop-by-hop for this message.
fn connection_tokens(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

fn copy_filtered(src: &HeaderMap, deny: &[&str], skip_prefix: Option<&str>) -> HeaderMap {
    let connection = connection_tokens(src);
    let mut out = HeaderMap::with_capacity(src.len());
    for (name, value) in src {
        let n = name.as_str();
        if is_hop_by_hop(name, &connection)
            || deny.contains(&n)
            || skip_prefix.is_some_and(|p| n.starts_with(p))
        {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out
}

/// Client headers to send upstream (the pool adds `Authorization`).
pub fn upstream_request_headers(client: &HeaderMap, request_id: Option<&HeaderValue>) -> HeaderMap {
    let mut out = copy_filtered(client, NOT_UPSTREAM, Some("x-gateway-"));
    if let Some(id) = request_id {
        out.insert(HeaderName::from_static("x-request-id"), id.clone());
    }
    out
}

/// Upstream response headers for the client; the provider's request id is kept
/// as `x-upstream-request-id` (the gateway's own goes in `x-request-id`).
pub fn client_response_headers(upstream: &HeaderMap) -> HeaderMap {
    let mut out = copy_filtered(upstream, NOT_DOWNSTREAM, None);
    if let Some(id) = upstream.get("x-request-id") {
        out.insert(HeaderName::from_static("x-upstream-request-id"), id.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn the_gateway_key_and_hop_by_hop_headers_stay_behind() {
        let client = map(&[
            ("authorization", "Bearer gw-key"),
            ("connection", "keep-alive, x-private"),
            ("x-private", "1"),
            ("transfer-encoding", "chunked"),
            ("x-gateway-cache-ttl", "5"),
            ("openai-beta", "assistants=v2"),
            ("content-type", "application/json"),
        ]);
        let id = HeaderValue::from_static("req-1");
        let out = upstream_request_headers(&client, Some(&id));
        assert!(out.get("authorization").is_none());
        assert!(out.get("x-private").is_none());
        assert!(out.get("transfer-encoding").is_none());
        assert!(out.get("x-gateway-cache-ttl").is_none());
        assert_eq!(out["openai-beta"], "assistants=v2");
        assert_eq!(out["x-request-id"], "req-1");
    }

    #[test]
    fn provider_cookies_and_framing_do_not_reach_clients() {
        let upstream = map(&[
            ("set-cookie", "__cf=1"),
            ("content-length", "10"),
            ("keep-alive", "timeout=5"),
            ("x-request-id", "prov-9"),
            ("openai-processing-ms", "12"),
            ("content-type", "application/json"),
        ]);
        let out = client_response_headers(&upstream);
        assert!(out.get("set-cookie").is_none());
        assert!(out.get("content-length").is_none());
        assert!(out.get("keep-alive").is_none());
        assert!(out.get("x-request-id").is_none());
        assert_eq!(out["x-upstream-request-id"], "prov-9");
        assert_eq!(out["openai-processing-ms"], "12");
    }
}
