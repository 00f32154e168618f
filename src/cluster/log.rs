//! Entries of the cluster log, the Redis Stream `{prefix}l2:log` (DESIGN.md
//! §3). A fill carries the vector as raw little-endian f32 bytes — no JSON, no
//! base64 — with the partition (32 raw bytes), the prompt (the guards compare
//! texts), the scope (purges), the store and expiry times and the node; a
//! purge carries `op=purge`, the scope (`*`: everything) and its time.
//! Stream content is not trusted to be ours: parsing checks every field.

use std::collections::HashMap;

use redis::Value;

use crate::cache::PurgeScope;
use crate::semantic::{EntryId, NewEntry, PartitionKey, id_hex};

#[derive(Debug, Clone, PartialEq)]
pub struct Fill {
    pub id: EntryId,
    pub scope: String,
    pub partition: PartitionKey,
    pub text: String,
    pub vector: Vec<f32>,
    pub stored_at_ms: u64,
    pub expires_at_ms: u64,
    pub node: String,
}

impl Fill {
    /// The log entry of `entry`, filled on `node`.
    pub fn of(entry: &NewEntry, node: &str) -> Self {
        Self {
            id: entry.id,
            scope: entry.scope.to_string(),
            partition: entry.partition,
            text: entry.text.clone(),
            vector: entry.vector.to_vec(),
            stored_at_ms: entry.stored_at_ms,
            expires_at_ms: entry.expires_at_ms,
            node: node.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Fill(Fill),
    Purge {
        scope: PurgeScope,
        at_ms: u64,
        node: String,
    },
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LogError {
    #[error("field `{0}` is missing or not what it should be")]
    Field(&'static str),
    #[error("unknown op `{0}`")]
    Op(String),
}

impl Event {
    /// The stream fields (names and raw values) for XADD.
    pub fn fields(&self) -> Vec<(&'static str, Vec<u8>)> {
        match self {
            Self::Fill(f) => {
                let mut v = Vec::with_capacity(f.vector.len() * 4);
                for x in &f.vector {
                    v.extend_from_slice(&x.to_le_bytes());
                }
                vec![
                    ("id", id_hex(&f.id).into_bytes()),
                    ("part", f.partition.to_vec()),
                    ("v", v),
                    ("exp", f.expires_at_ms.to_string().into_bytes()),
                    ("t", f.stored_at_ms.to_string().into_bytes()),
                    ("node", f.node.clone().into_bytes()),
                    ("scope", f.scope.clone().into_bytes()),
                    ("text", f.text.clone().into_bytes()),
                ]
            }
            Self::Purge { scope, at_ms, node } => vec![
                ("op", b"purge".to_vec()),
                ("scope", scope.label().as_bytes().to_vec()),
                ("at", at_ms.to_string().into_bytes()),
                ("node", node.clone().into_bytes()),
            ],
        }
    }

    /// Parses one stream entry's fields.
    pub fn parse(map: &HashMap<String, Value>) -> Result<Self, LogError> {
        let bytes = |name: &'static str| match map.get(name) {
            Some(Value::BulkString(b)) => Ok(b.as_slice()),
            _ => Err(LogError::Field(name)),
        };
        let text = |name: &'static str| {
            std::str::from_utf8(bytes(name)?).map_err(|_| LogError::Field(name))
        };
        let number = |name: &'static str| {
            text(name)?
                .parse::<u64>()
                .map_err(|_| LogError::Field(name))
        };
        match map.get("op") {
            None => {}
            Some(_) if text("op")? == "purge" => {
                return Ok(Self::Purge {
                    scope: PurgeScope::from_label(text("scope")?),
                    at_ms: number("at")?,
                    node: text("node")?.to_string(),
                });
            }
            Some(_) => return Err(LogError::Op(text("op")?.to_string())),
        }
        let id = parse_hex(text("id")?).ok_or(LogError::Field("id"))?;
        let partition: PartitionKey = bytes("part")?
            .try_into()
            .map_err(|_| LogError::Field("part"))?;
        let raw = bytes("v")?;
        if raw.is_empty() || raw.len() % 4 != 0 {
            return Err(LogError::Field("v"));
        }
        let vector = raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect::<Vec<f32>>();
        if vector.iter().any(|x| !x.is_finite()) {
            return Err(LogError::Field("v"));
        }
        Ok(Self::Fill(Fill {
            id,
            scope: text("scope")?.to_string(),
            partition,
            text: text("text")?.to_string(),
            vector,
            stored_at_ms: number("t")?,
            expires_at_ms: number("exp")?,
            node: text("node")?.to_string(),
        }))
    }
}

fn parse_hex(text: &str) -> Option<EntryId> {
    if text.len() != 32 || !text.is_ascii() {
        return None;
    }
    let mut id = [0u8; 16];
    for (i, byte) in id.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(id)
}

/// A stream id `ms-seq`, for ordering (`None` if malformed).
pub fn stream_id(text: &str) -> Option<(u64, u64)> {
    let (ms, seq) = text.split_once('-').unwrap_or((text, "0"));
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn as_map(fields: Vec<(&'static str, Vec<u8>)>) -> HashMap<String, Value> {
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), Value::BulkString(v)))
            .collect()
    }

    fn fill() -> Fill {
        Fill {
            id: [7; 16],
            scope: "tenant:a".into(),
            partition: [3; 32],
            text: "How do I reset my password?".into(),
            vector: vec![0.25, -0.5, 1.0, f32::MIN_POSITIVE],
            stored_at_ms: 1_700_000_000_000,
            expires_at_ms: 1_700_000_360_000,
            node: "node-a".into(),
        }
    }

    #[test]
    fn a_fill_round_trips_with_the_vector_as_raw_little_endian_bytes() {
        let event = Event::Fill(fill());
        let fields = event.fields();
        let v = &fields.iter().find(|(k, _)| *k == "v").unwrap().1;
        assert_eq!(v.len(), 16);
        assert_eq!(&v[..4], &0.25f32.to_le_bytes());
        assert_eq!(Event::parse(&as_map(fields)), Ok(event));
    }

    #[test]
    fn a_purge_round_trips() {
        for scope in [PurgeScope::All, PurgeScope::Scope("tenant:b".into())] {
            let event = Event::Purge {
                scope,
                at_ms: 42,
                node: "n".into(),
            };
            assert_eq!(Event::parse(&as_map(event.fields())), Ok(event));
        }
    }

    #[test]
    fn malformed_entries_are_refused_not_trusted() {
        let good = Event::Fill(fill()).fields();
        let broken = |name: &str, value: &[u8]| {
            let mut fields = as_map(good.clone());
            fields.insert(name.into(), Value::BulkString(value.to_vec()));
            Event::parse(&fields)
        };
        assert_eq!(broken("v", &[0, 0, 128]), Err(LogError::Field("v")));
        assert_eq!(
            broken("v", &f32::NAN.to_le_bytes()),
            Err(LogError::Field("v"))
        );
        assert_eq!(broken("part", &[1; 31]), Err(LogError::Field("part")));
        assert_eq!(broken("id", b"zz"), Err(LogError::Field("id")));
        assert_eq!(broken("exp", b"soon"), Err(LogError::Field("exp")));
        assert_eq!(broken("text", &[0xff, 0xfe]), Err(LogError::Field("text")));
        assert_eq!(broken("op", b"drop"), Err(LogError::Op("drop".into())));
        let mut missing = as_map(good);
        missing.remove("node");
        assert_eq!(Event::parse(&missing), Err(LogError::Field("node")));
    }

    #[test]
    fn stream_ids_order_by_time_then_sequence() {
        assert!(stream_id("5-1") < stream_id("5-2"));
        assert!(stream_id("5-9") < stream_id("6-0"));
        assert_eq!(stream_id("0"), Some((0, 0)));
        assert_eq!(stream_id("x-1"), None);
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        const NAMES: [&str; 11] = [
            "id", "part", "v", "exp", "t", "node", "scope", "text", "op", "at", "junk",
        ];

        fn value() -> impl Strategy<Value = Value> {
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..64).prop_map(Value::BulkString),
                any::<i64>().prop_map(Value::Int),
                Just(Value::Nil),
                ".{0,16}".prop_map(Value::SimpleString),
            ]
        }

        proptest! {
            #[test]
            fn arbitrary_log_entries_never_panic(
                fields in proptest::collection::vec((0..NAMES.len(), value()), 0..12)
            ) {
                let map: HashMap<String, Value> = fields
                    .into_iter()
                    .map(|(i, v)| (NAMES[i].to_string(), v))
                    .collect();
                let _ = Event::parse(&map);
            }

            #[test]
            fn a_valid_fill_with_one_field_garbled_never_panics(
                field in 0..8usize,
                garbage in proptest::collection::vec(any::<u8>(), 0..64),
            ) {
                let mut map = as_map(Event::Fill(fill()).fields());
                let name = NAMES[field].to_string();
                map.insert(name, Value::BulkString(garbage));
                let _ = Event::parse(&map);
            }
        }
    }
}
