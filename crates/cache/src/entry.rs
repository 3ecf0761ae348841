//! Keys and values of the cache: what identifies a result, and how a result is stored.
//!
//! A value is `MAGIC | crc32 | postcard(ObjectSummary)`. The checksum covers the key as well as
//! the payload, so a value stored under the wrong key (a damaged index, a row edited by hand) is
//! caught like a damaged payload. The payload is never written by hand: it is serde's encoding of
//! whatever `ObjectSummary` is in this build, and [`layout_fingerprint`] (part of the key) changes
//! whenever that encoding could change, so a build never decodes another build's layout.

use std::sync::OnceLock;

use dockergate_analysis::{ObjectSummary, ANALYSIS_VERSION};
use dockergate_elf::ElfObject;
use sha2::{Digest, Sha256};

/// First bytes of every stored value.
pub const MAGIC: &[u8; 4] = b"DGC1";

/// What identifies one cached result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// sha256 of the file's bytes.
    pub content: [u8; 32],
    /// [`ANALYSIS_VERSION`] of the analyser that wrote it.
    pub version: u32,
    /// [`layout_fingerprint`] of the build that wrote it.
    pub layout: u64,
    /// [`arch_code`] of the object.
    pub arch: u32,
}

impl Key {
    /// The key of an object for this build of the analyser.
    pub fn new(content: [u8; 32], elf: &ElfObject) -> Option<Key> {
        Some(Key {
            content,
            version: ANALYSIS_VERSION,
            layout: layout_fingerprint()?,
            arch: arch_code(elf),
        })
    }

    /// The key of some bytes (hashes them).
    pub fn of(bytes: &[u8], elf: &ElfObject) -> Option<Key> {
        Key::new(content_hash(bytes), elf)
    }

    /// The bytes the checksum covers before the payload.
    fn header(&self) -> [u8; 48] {
        let mut h = [0u8; 48];
        h[..32].copy_from_slice(&self.content);
        h[32..36].copy_from_slice(&self.version.to_le_bytes());
        h[36..44].copy_from_slice(&self.layout.to_le_bytes());
        h[44..48].copy_from_slice(&self.arch.to_le_bytes());
        h
    }

    /// `sha256:HEX/vVERSION/LAYOUT/ARCH`, for messages.
    pub fn describe(&self) -> String {
        format!(
            "sha256:{}/v{}/{:016x}/{:x}",
            hex::encode(self.content),
            self.version,
            self.layout,
            self.arch
        )
    }
}

/// sha256 of a file's bytes (SHA-NI where the processor has it).
pub fn content_hash(bytes: &[u8]) -> [u8; 32] {
    let mut h = ContentHasher::default();
    h.update(bytes);
    h.finish()
}

/// [`content_hash`] of bytes seen a piece at a time.
#[derive(Default)]
pub struct ContentHasher(Sha256);

impl ContentHasher {
    pub fn update(&mut self, piece: &[u8]) {
        self.0.update(piece);
    }

    pub fn finish(self) -> [u8; 32] {
        self.0.finalize().into()
    }
}

/// `e_machine`, class and byte order in one number: `machine | class << 16 | little << 24`.
pub fn arch_code(elf: &ElfObject) -> u32 {
    u32::from(elf.machine) | u32::from(elf.class) << 16 | u32::from(elf.little_endian) << 24
}

/// Why a stored value was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadValue {
    Short,
    Magic,
    Checksum,
    Decode(String),
}

impl std::fmt::Display for BadValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BadValue::Short => f.write_str("truncated value"),
            BadValue::Magic => f.write_str("not a dockergate cache value"),
            BadValue::Checksum => f.write_str("checksum mismatch"),
            BadValue::Decode(why) => write!(f, "cannot decode: {why}"),
        }
    }
}

fn checksum(key: &Key, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&key.header());
    h.update(payload);
    h.finalize()
}

/// The stored form of a summary.
pub fn encode(key: &Key, summary: &ObjectSummary) -> Vec<u8> {
    // The payload is written after the header's place, not copied there afterwards.
    let mut v = Vec::with_capacity(64 << 10);
    v.extend_from_slice(MAGIC);
    v.extend_from_slice(&[0; 4]);
    let mut v = postcard::to_extend(summary, v).expect("a summary always encodes");
    let crc = checksum(key, &v[8..]);
    v[4..8].copy_from_slice(&crc.to_le_bytes());
    v
}

/// The stored form of any other result (a whole image report): the same framing as a summary.
pub fn encode_bytes(key: &Key, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + payload.len());
    v.extend_from_slice(MAGIC);
    v.extend_from_slice(&checksum(key, payload).to_le_bytes());
    v.extend_from_slice(payload);
    v
}

/// [`Key::arch`] of whole image reports (no ELF machine has this code).
pub const REPORT_ARCH: u32 = 0x5245_5054;

/// [`Key::arch`] of one program's result (`PROG`; no ELF machine has this code).
pub const PROGRAM_ARCH: u32 = 0x5052_4f47;

/// Checks a stored value against its key; the payload when it is intact.
pub fn verify<'a>(key: &Key, value: &'a [u8]) -> Result<&'a [u8], BadValue> {
    if value.len() < 8 {
        return Err(BadValue::Short);
    }
    if &value[..4] != MAGIC {
        return Err(BadValue::Magic);
    }
    let want = u32::from_le_bytes(value[4..8].try_into().unwrap());
    let payload = &value[8..];
    if checksum(key, payload) != want {
        return Err(BadValue::Checksum);
    }
    Ok(payload)
}

/// The summary a stored value holds, when it is intact and whole.
pub fn decode(key: &Key, value: &[u8]) -> Result<ObjectSummary, BadValue> {
    let payload = verify(key, value)?;
    match postcard::take_from_bytes::<ObjectSummary>(payload) {
        Ok((s, [])) => Ok(s),
        Ok((_, rest)) => Err(BadValue::Decode(format!(
            "{} bytes left over after the summary",
            rest.len()
        ))),
        Err(e) => Err(BadValue::Decode(e.to_string())),
    }
}

/// A fingerprint of the serde layout of [`ObjectSummary`] in this build: every type it is made
/// of, with its fields and variants in order, traced through serde (not written by hand, so it
/// follows the type as it changes). `None` when the layout cannot be traced: then nothing is
/// cached, rather than risk decoding a value with the wrong layout.
pub fn layout_fingerprint() -> Option<u64> {
    static FP: OnceLock<Option<u64>> = OnceLock::new();
    *FP.get_or_init(|| {
        let text = layout_description().ok()?;
        let d = Sha256::digest(text.as_bytes());
        Some(u64::from_le_bytes(d[..8].try_into().unwrap()))
    })
}

/// The traced layout of [`ObjectSummary`], as text (see [`crate::shape`]).
pub fn layout_description() -> Result<String, String> {
    crate::shape::describe::<ObjectSummary>()
        .map(|shape| format!("postcard 1\n{shape}"))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key {
            content: [7; 32],
            version: ANALYSIS_VERSION,
            layout: layout_fingerprint().unwrap(),
            arch: 0x0140_003e,
        }
    }

    #[test]
    fn layout_is_traced_and_stable() {
        let a = layout_description().unwrap();
        assert!(a.contains("struct ObjectSummary {functions, "), "{a}");
        // Enums inside sequences are explored too, every variant.
        assert!(a.contains("CallTarget::Indirect: unit"), "{a}");
        assert!(a.contains("Atom::Param: newtype"), "{a}");
        assert_eq!(a, layout_description().unwrap());
        assert!(layout_fingerprint().is_some());
    }

    #[test]
    fn round_trip_and_damage() {
        let s = ObjectSummary {
            warnings: vec!["w".into()],
            ..Default::default()
        };
        let k = key();
        let v = encode(&k, &s);
        assert_eq!(decode(&k, &v).unwrap(), s);
        // Every single flipped bit is caught.
        for i in 0..v.len() {
            for bit in 0..8 {
                let mut w = v.clone();
                w[i] ^= 1 << bit;
                assert!(decode(&k, &w).is_err(), "byte {i} bit {bit}");
            }
        }
        // Truncation, and a value under another key.
        assert!(decode(&k, &v[..v.len() - 1]).is_err());
        assert!(decode(&k, &v[..5]).is_err());
        let mut other = k;
        other.content[0] ^= 1;
        assert_eq!(decode(&other, &v), Err(BadValue::Checksum));
        other = k;
        other.version += 1;
        assert_eq!(decode(&other, &v), Err(BadValue::Checksum));
    }
}
