//! The snapshot file: a fixed little-endian header — magic, format version,
//! embedder id and dimension, stream position, entry count, payload length
//! and the payload's XXH3-128 checksum — zero padding to a 16-byte boundary, then an
//! `rkyv` archive of the L2 entries and the purge marks. The padding lets a
//! file read into an aligned buffer be accessed where it lies, uncopied. Nothing in a file is trusted before every check passed:
//! lengths, version, embedder, checksum, then `rkyv::access` (validating,
//! never the unchecked path).

use rkyv::rancor;

use xxhash_rust::xxh3::xxh3_128;

const MAGIC: &[u8; 8] = b"GWSNAP\r\n";
/// The payload starts at a multiple of this (rkyv's alignment).
const ALIGN: usize = 16;
/// Bumped whenever the header or the archived types change.
pub const FORMAT_VERSION: u32 = 2;

#[derive(rkyv::Archive, rkyv::Serialize, Debug, Clone, PartialEq)]
pub struct Payload {
    pub entries: Vec<SnapEntry>,
    pub purges: Vec<SnapPurge>,
    /// The HNSW graphs of large partitions (version 2 on), in the format
    /// `index::GraphIndex::save` writes and `load` validates.
    pub graphs: Vec<SnapGraph>,
}

#[derive(rkyv::Archive, rkyv::Serialize, Debug, Clone, PartialEq)]
pub struct SnapGraph {
    pub partition: [u8; 32],
    pub bytes: Vec<u8>,
}

#[derive(rkyv::Archive, rkyv::Serialize, Debug, Clone, PartialEq)]
pub struct SnapEntry {
    pub id: [u8; 16],
    pub scope: String,
    pub partition: [u8; 32],
    pub text: String,
    pub vector: Vec<f32>,
    pub stored_at_ms: u64,
    pub expires_at_ms: u64,
    /// The answer, when the node held it (else it is in Redis).
    pub body: Option<SnapBody>,
}

#[derive(rkyv::Archive, rkyv::Serialize, Debug, Clone, PartialEq)]
pub struct SnapBody {
    pub bytes: Vec<u8>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

#[derive(rkyv::Archive, rkyv::Serialize, Debug, Clone, PartialEq)]
pub struct SnapPurge {
    /// `*` for everything.
    pub scope: String,
    pub at_ms: u64,
}

/// What the header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub version: u32,
    pub embedder: String,
    pub dim: u32,
    /// The last cluster log id applied before the snapshot (`0`: none).
    pub position: String,
    pub entries: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("not a snapshot (bad magic)")]
    Magic,
    #[error("truncated ({0})")]
    Truncated(&'static str),
    #[error("format version {found}, this build reads {FORMAT_VERSION}")]
    Version { found: u32 },
    #[error("made with embedder {found}, this node uses {expected}")]
    Embedder { found: String, expected: String },
    #[error("checksum mismatch")]
    Checksum,
    #[error("archive invalid: {0}")]
    Archive(String),
}

/// The whole file: header then payload.
pub fn encode(header: &Header, payload: &Payload) -> Result<Vec<u8>, FormatError> {
    let archive = rkyv::to_bytes::<rancor::Error>(payload)
        .map_err(|e| FormatError::Archive(e.to_string()))?;
    let mut out = Vec::with_capacity(archive.len() + 128);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&header.version.to_le_bytes());
    put_str(&mut out, &header.embedder);
    out.extend_from_slice(&header.dim.to_le_bytes());
    put_str(&mut out, &header.position);
    out.extend_from_slice(&header.entries.to_le_bytes());
    out.extend_from_slice(&(archive.len() as u64).to_le_bytes());
    out.extend_from_slice(&xxh3_128(&archive).to_le_bytes());
    out.resize(out.len().next_multiple_of(ALIGN), 0);
    out.extend_from_slice(&archive);
    Ok(out)
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let len = s.len().min(u16::MAX as usize);
    out.extend_from_slice(&(len as u16).to_le_bytes());
    out.extend_from_slice(&s.as_bytes()[..len]);
}

/// Reads fields off the front of a byte slice, failing on a short read.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], FormatError> {
        if self.0.len() < n {
            return Err(FormatError::Truncated(what));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, FormatError> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, FormatError> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4, what)?);
        Ok(u32::from_le_bytes(b))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, FormatError> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8, what)?);
        Ok(u64::from_le_bytes(b))
    }

    fn string(&mut self, what: &'static str) -> Result<String, FormatError> {
        let len = self.u16(what)? as usize;
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| FormatError::Archive(what.into()))
    }
}

/// Checks the header against this node's embedder, the payload against its
/// checksum, then the archive itself (`rkyv::access`, validating). `file`
/// is the whole file, starting at a 16-byte-aligned address (a mapping or an
/// aligned buffer).
pub fn read<'a>(
    file: &'a [u8],
    embedder: &str,
    dim: usize,
) -> Result<(Header, &'a ArchivedPayload), FormatError> {
    let mut c = Cursor(file);
    if c.take(MAGIC.len(), "magic")? != MAGIC {
        return Err(FormatError::Magic);
    }
    let version = c.u32("version")?;
    if version != FORMAT_VERSION {
        return Err(FormatError::Version { found: version });
    }
    let found_embedder = c.string("embedder")?;
    let found_dim = c.u32("dimension")?;
    if found_embedder != embedder || found_dim as usize != dim {
        return Err(FormatError::Embedder {
            found: format!("{found_embedder}/{found_dim}"),
            expected: format!("{embedder}/{dim}"),
        });
    }
    let position = c.string("position")?;
    let entries = c.u64("entry count")?;
    let len = c.u64("payload length")?;
    let checksum = c.take(16, "checksum")?;
    let offset = file.len() - c.0.len();
    let padding = c.take(offset.next_multiple_of(ALIGN) - offset, "padding")?;
    if padding.iter().any(|b| *b != 0) {
        return Err(FormatError::Archive("padding is not zero".into()));
    }
    let len = usize::try_from(len).map_err(|_| FormatError::Truncated("payload"))?;
    let payload = c.take(len, "payload")?;
    if !c.0.is_empty() {
        return Err(FormatError::Archive("bytes after the payload".into()));
    }
    if xxh3_128(payload).to_le_bytes() != checksum {
        return Err(FormatError::Checksum);
    }
    let archived = rkyv::access::<ArchivedPayload, rancor::Error>(payload)
        .map_err(|e| FormatError::Archive(e.to_string()))?;
    let header = Header {
        version,
        embedder: found_embedder,
        dim: found_dim,
        position,
        entries,
    };
    Ok((header, archived))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rkyv::util::AlignedVec;

    fn sample() -> (Header, Payload) {
        let header = Header {
            version: FORMAT_VERSION,
            embedder: "local:all-MiniLM-L6-v2".into(),
            dim: 3,
            position: "1700000000000-3".into(),
            entries: 1,
        };
        let payload = Payload {
            entries: vec![SnapEntry {
                id: [1; 16],
                scope: "tenant:a".into(),
                partition: [2; 32],
                text: "q".into(),
                vector: vec![0.5, -0.25, 1.0],
                stored_at_ms: 5,
                expires_at_ms: 9,
                body: Some(SnapBody {
                    bytes: b"{}".to_vec(),
                    prompt_tokens: 3,
                    completion_tokens: 4,
                }),
            }],
            purges: vec![SnapPurge {
                scope: "*".into(),
                at_ms: 4,
            }],
            graphs: vec![SnapGraph {
                partition: [2; 32],
                bytes: b"GAIGRAPH".to_vec(),
            }],
        };
        (header, payload)
    }

    fn aligned(bytes: &[u8]) -> AlignedVec {
        let mut out = AlignedVec::with_capacity(bytes.len());
        out.extend_from_slice(bytes);
        out
    }

    fn decode(bytes: &[u8], embedder: &str, dim: usize) -> Result<Header, FormatError> {
        read(&aligned(bytes), embedder, dim).map(|(header, _)| header)
    }

    #[test]
    fn a_snapshot_round_trips() {
        let (header, payload) = sample();
        let bytes = encode(&header, &payload).unwrap();
        let file = aligned(&bytes);
        let (got, archived) = read(&file, &header.embedder, 3).unwrap();
        assert_eq!(got, header);
        let entry = &archived.entries[0];
        assert_eq!(entry.text.as_str(), "q");
        assert_eq!(entry.vector[1].to_native(), -0.25);
        assert_eq!(entry.expires_at_ms.to_native(), 9);
        assert_eq!(archived.purges[0].scope.as_str(), "*");
    }

    #[test]
    fn truncated_flipped_foreign_or_mismatched_files_are_refused() {
        let (header, payload) = sample();
        let bytes = encode(&header, &payload).unwrap();
        let embedder = header.embedder.as_str();
        for cut in [0, 5, 20, bytes.len() / 2, bytes.len() - 1] {
            assert!(decode(&bytes[..cut], embedder, 3).is_err(), "cut at {cut}");
        }
        for at in [0, 9, bytes.len() - 10] {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x40;
            assert!(decode(&flipped, embedder, 3).is_err(), "flip at {at}");
        }
        let mut version = bytes.clone();
        version[8] = 99;
        assert!(matches!(
            decode(&version, embedder, 3),
            Err(FormatError::Version { found: 99 })
        ));
        assert!(matches!(
            decode(&bytes, "remote:other", 3),
            Err(FormatError::Embedder { .. })
        ));
        assert!(matches!(
            decode(&bytes, embedder, 384),
            Err(FormatError::Embedder { .. })
        ));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer, embedder, 3).is_err());
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        fn aligned(bytes: &[u8]) -> AlignedVec<16> {
            let mut v = AlignedVec::<16>::new();
            v.extend_from_slice(bytes);
            v
        }

        proptest! {
            #[test]
            fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
                let _ = read(&aligned(&bytes), "e", 4);
                let mut with_magic = MAGIC.to_vec();
                with_magic.extend_from_slice(&bytes);
                let _ = read(&aligned(&with_magic), "e", 4);
            }

            #[test]
            fn a_garbled_payload_with_a_matching_checksum_never_panics(
                flips in proptest::collection::vec((any::<usize>(), 1u8..), 1..24),
            ) {
                let (header, payload) = sample();
                let mut file = encode(&header, &payload).unwrap();
                let archive = rkyv::to_bytes::<rancor::Error>(&payload).unwrap();
                let start = file.len() - archive.len();
                for (at, bits) in flips {
                    let i = start + at % archive.len();
                    file[i] ^= bits;
                }
                // Re-seal the checksum, so the archive validation itself is tried.
                let sum = xxh3_128(&file[start..]).to_le_bytes();
                let checksum_at = start - (start - checksum_end(&header)) - 16;
                file[checksum_at..checksum_at + 16].copy_from_slice(&sum);
                let _ = read(&aligned(&file), &header.embedder, header.dim as usize);
            }
        }

        /// Where the checksum field ends (the payload starts at the next
        /// 16-byte boundary).
        fn checksum_end(h: &Header) -> usize {
            MAGIC.len() + 4 + 2 + h.embedder.len() + 4 + 2 + h.position.len() + 8 + 8 + 16
        }
    }
}
