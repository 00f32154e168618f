//! Reading a request body: decoded from `gzip`, `deflate`, `br` or `zstd`
//! when the client compressed it, bounded in size after decoding (a
//! decompression bomb stops at the limit: 413), and in time — the body must
//! arrive within a base time plus its size at a minimum rate (408), so a
//! client trickling a body holds a connection only so long.

use std::time::Duration;

use async_compression::tokio::bufread::{BrotliDecoder, GzipDecoder, ZlibDecoder, ZstdDecoder};
use axum::body::Body;
use axum::http::{HeaderMap, header};
use bytes::{Bytes, BytesMut};
use futures_util::TryStreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, BufReader};
use tokio::time::{Instant, timeout_at};
use tokio_util::io::StreamReader;

use crate::config::ServerConfig;

/// Why a request body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("request body is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("could not read the request body")]
    Unreadable,
    #[error("the request body did not arrive in time")]
    Timeout,
    #[error("Content-Encoding {0:?} is not supported (gzip, deflate, br, zstd are)")]
    UnsupportedEncoding(String),
    #[error("the request body could not be decoded as its Content-Encoding says")]
    Undecodable,
    #[error("{message}")]
    Invalid {
        message: String,
        /// The field at fault, as OpenAI's `param`.
        param: Option<&'static str>,
    },
}

impl RequestError {
    pub(crate) fn invalid(message: impl Into<String>, param: Option<&'static str>) -> Self {
        Self::Invalid {
            message: message.into(),
            param,
        }
    }
}

/// How much body a request may send, and how fast it must.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// Bytes after decoding.
    pub max_bytes: usize,
    /// Time allowed on top of the size-dependent part.
    pub base: Duration,
    /// Bytes per second the body must average past `base`.
    pub min_rate: u64,
}

impl From<&ServerConfig> for BodyLimits {
    fn from(server: &ServerConfig) -> Self {
        Self {
            max_bytes: server.max_body_bytes,
            base: Duration::from_secs(server.body_read_timeout_secs),
            min_rate: server.min_body_rate,
        }
    }
}

/// The body's encoding, from `Content-Encoding` (one coding at most).
fn coding(headers: &HeaderMap) -> Result<Option<&'static str>, RequestError> {
    let Some(value) = headers.get(header::CONTENT_ENCODING) else {
        return Ok(None);
    };
    let value = value.to_str().unwrap_or("").trim().to_ascii_lowercase();
    match value.as_str() {
        "" | "identity" => Ok(None),
        "gzip" | "x-gzip" => Ok(Some("gzip")),
        "deflate" => Ok(Some("deflate")),
        "br" => Ok(Some("br")),
        "zstd" => Ok(Some("zstd")),
        _ => Err(RequestError::UnsupportedEncoding(value)),
    }
}

/// Reads the whole body within `limits`.
pub async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limits: &BodyLimits,
) -> Result<Bytes, RequestError> {
    let limit = limits.max_bytes;
    let coding = coding(headers)?;
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if coding.is_none() && announced.is_some_and(|n| n > limit as u64) {
        return Err(RequestError::TooLarge { limit });
    }
    let raw = StreamReader::new(
        body.into_data_stream()
            .map_err(|e| std::io::Error::other(e.to_string())),
    );
    let reader: Box<dyn AsyncRead + Send + Unpin> = match coding {
        None => Box::new(raw),
        Some("gzip") => Box::new(GzipDecoder::new(BufReader::new(raw))),
        Some("deflate") => Box::new(ZlibDecoder::new(BufReader::new(raw))),
        Some("br") => Box::new(BrotliDecoder::new(BufReader::new(raw))),
        Some(_) => Box::new(ZstdDecoder::new(BufReader::new(raw))),
    };
    read_limited(reader, limits, coding.is_some()).await
}

/// Reads `reader` to its end: at most `max_bytes`, each read within the
/// time the bytes so far allow.
async fn read_limited(
    mut reader: Box<dyn AsyncRead + Send + Unpin>,
    limits: &BodyLimits,
    decoding: bool,
) -> Result<Bytes, RequestError> {
    let started = Instant::now();
    let mut out = BytesMut::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let allowed =
            limits.base + Duration::from_secs_f64(out.len() as f64 / limits.min_rate.max(1) as f64);
        let read = match timeout_at(started + allowed, reader.read(&mut chunk)).await {
            Err(_) => return Err(RequestError::Timeout),
            Ok(Err(_)) if decoding => return Err(RequestError::Undecodable),
            Ok(Err(_)) => return Err(RequestError::Unreadable),
            Ok(Ok(read)) => read,
        };
        if read == 0 {
            return Ok(out.freeze());
        }
        if out.len() + read > limits.max_bytes {
            return Err(RequestError::TooLarge {
                limit: limits.max_bytes,
            });
        }
        out.extend_from_slice(&chunk[..read]);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn limits(max_bytes: usize) -> BodyLimits {
        BodyLimits {
            max_bytes,
            base: Duration::from_secs(5),
            min_rate: 1024,
        }
    }

    fn encoded(coding: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_ENCODING, coding.parse().unwrap());
        h
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[tokio::test]
    async fn a_gzip_body_is_decoded() {
        let body = Body::from(gzip(br#"{"model":"m"}"#));
        let got = read_body(body, &encoded("gzip"), &limits(1024)).await;
        assert_eq!(got.unwrap(), Bytes::from_static(br#"{"model":"m"}"#));
    }

    #[tokio::test]
    async fn a_decompression_bomb_stops_at_the_decoded_limit() {
        let bomb = gzip(&vec![b'a'; 10 * 1024 * 1024]);
        assert!(bomb.len() < 64 * 1024);
        let got = read_body(Body::from(bomb), &encoded("gzip"), &limits(1024 * 1024)).await;
        assert_eq!(got, Err(RequestError::TooLarge { limit: 1024 * 1024 }));
    }

    #[tokio::test]
    async fn unknown_or_corrupt_encodings_are_refused() {
        let got = read_body(Body::from("x"), &encoded("compress"), &limits(1024)).await;
        assert!(matches!(got, Err(RequestError::UnsupportedEncoding(_))));
        let got = read_body(Body::from("not gzip"), &encoded("gzip"), &limits(1024)).await;
        assert_eq!(got, Err(RequestError::Undecodable));
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_trickles_in_times_out() {
        // One byte a second, for ever: far below the minimum rate.
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
        let body = Body::from_stream(tokio_stream_of(rx));
        tokio::spawn(async move {
            while tx.send(Ok(Bytes::from_static(b"x"))).await.is_ok() {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        let got = read_body(body, &HeaderMap::new(), &limits(1 << 20)).await;
        assert_eq!(got, Err(RequestError::Timeout));
    }

    fn tokio_stream_of(
        mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
    ) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
        futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
    }
}
