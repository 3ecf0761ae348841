//! `/etc/ld.so.cache`, the new format written by ldconfig since glibc 2.32 (`glibc-ld.so.cache1.1`,
//! possibly after an old-format `ld.so-1.7.0` part), with its glibc-hwcaps extension.

/// `FLAG_ELF_LIBC6`.
const FLAG_ELF_LIBC6: i32 = 0x0003;
/// Architecture flags of 64-bit entries (`FLAG_X8664_LIB64`, `FLAG_AARCH64_LIB64`).
pub const FLAG_X8664_LIB64: i32 = 0x0300;
pub const FLAG_AARCH64_LIB64: i32 = 0x0a00;
/// `DL_CACHE_HWCAP_EXTENSION`: the entry lives in a glibc-hwcaps subdirectory.
const HWCAP_EXTENSION: u64 = 1 << 62;
const EXTENSION_MAGIC: u32 = 0xeaa4_2174;
const MAGIC_NEW: &[u8] = b"glibc-ld.so.cache1.1";

/// One library of the cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheEntry {
    pub flags: i32,
    pub soname: String,
    pub path: String,
    /// The glibc-hwcaps subdirectory (`x86-64-v3`) when the entry is one.
    pub hwcaps: Option<String>,
}

/// A parsed ld.so.cache.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LdSoCache {
    pub entries: Vec<CacheEntry>,
}

impl LdSoCache {
    /// Parses the cache; `None` when it is not in a format we know (ld.so then ignores it too).
    pub fn parse(data: &[u8]) -> Option<LdSoCache> {
        let start = find(data, MAGIC_NEW)?;
        let d = &data[start..];
        let u32_at = |o: usize| -> Option<u32> {
            Some(u32::from_le_bytes(d.get(o..o + 4)?.try_into().ok()?))
        };
        let nlibs = u32_at(20)? as usize;
        // magic+version (20), nlibs, len_strings, flags (u8) + 3 padding, extension_offset.
        let extension_offset = u32_at(32)? as usize;
        let str_at = |o: u32| -> Option<String> {
            let rest = d.get(o as usize..)?;
            let end = rest.iter().take(4096).position(|&b| b == 0)?;
            Some(String::from_utf8_lossy(&rest[..end]).into_owned())
        };
        // glibc-hwcaps subdirectory names from the extension section (tag 0).
        let mut hwcaps_names: Vec<String> = Vec::new();
        if extension_offset != 0 && u32_at(extension_offset) == Some(EXTENSION_MAGIC) {
            let count = u32_at(extension_offset + 4)?.min(64) as usize;
            for i in 0..count {
                let base = extension_offset + 8 + i * 16;
                let (tag, offset, size) = (u32_at(base)?, u32_at(base + 8)?, u32_at(base + 12)?);
                if tag == 0 {
                    for j in 0..(size / 4).min(1024) as usize {
                        if let Some(name) = u32_at(offset as usize + j * 4).and_then(str_at) {
                            hwcaps_names.push(name);
                        }
                    }
                }
            }
        }
        let mut entries = Vec::new();
        for i in 0..nlibs.min(1 << 20) {
            let base = 48 + i * 24;
            let Some(flags) = u32_at(base) else { break };
            let (Some(key), Some(value)) = (
                u32_at(base + 4).and_then(str_at),
                u32_at(base + 8).and_then(str_at),
            ) else {
                break;
            };
            let hwcap = d
                .get(base + 16..base + 24)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_le_bytes)
                .unwrap_or(0);
            let hwcaps = (hwcap & HWCAP_EXTENSION != 0)
                .then(|| hwcaps_names.get((hwcap & 0xffff_ffff) as usize).cloned())
                .flatten();
            entries.push(CacheEntry {
                flags: flags as i32,
                soname: key,
                path: value,
                hwcaps,
            });
        }
        Some(LdSoCache { entries })
    }

    /// The path glibc's `_dl_load_cache_lookup` returns for `name`: among entries of the right
    /// architecture, the glibc-hwcaps entry of highest priority the CPU supports, else the first
    /// plain entry. `hwcaps_priority` gives the priority of a subdirectory (0: unsupported).
    pub fn lookup(
        &self,
        name: &str,
        arch_flags: i32,
        hwcaps_priority: &dyn Fn(&str) -> u32,
    ) -> Option<&CacheEntry> {
        let want = FLAG_ELF_LIBC6 | arch_flags;
        let mut best: Option<(&CacheEntry, u32)> = None;
        for e in self
            .entries
            .iter()
            .filter(|e| e.soname == name && e.flags == want)
        {
            let prio = match &e.hwcaps {
                Some(h) => match hwcaps_priority(h) {
                    0 => continue,
                    p => p + 1,
                },
                None => 1,
            };
            if best.is_none_or(|(_, p)| prio > p) {
                best = Some((e, prio));
            }
        }
        best.map(|(e, _)| e)
    }

    /// Every entry of the right architecture for `name` (all hwcaps variants), for the analysis:
    /// any of them may be the one loaded on the target CPU.
    pub fn all_for<'s>(
        &'s self,
        name: &'s str,
        arch_flags: i32,
    ) -> impl Iterator<Item = &'s CacheEntry> + 's {
        let want = FLAG_ELF_LIBC6 | arch_flags;
        self.entries
            .iter()
            .filter(move |e| e.soname == name && e.flags == want)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a cache file the way ldconfig lays it out.
    fn build(entries: &[(i32, &str, &str, u64)], hwcaps: &[&str]) -> Vec<u8> {
        let mut strings = Vec::new();
        let header_len = 48 + entries.len() * 24;
        let mut offs = Vec::new();
        for (_, k, v, _) in entries {
            let ko = header_len + strings.len();
            strings.extend_from_slice(k.as_bytes());
            strings.push(0);
            let vo = header_len + strings.len();
            strings.extend_from_slice(v.as_bytes());
            strings.push(0);
            offs.push((ko as u32, vo as u32));
        }
        let mut hw_offs = Vec::new();
        for h in hwcaps {
            hw_offs.push((header_len + strings.len()) as u32);
            strings.extend_from_slice(h.as_bytes());
            strings.push(0);
        }
        while (header_len + strings.len()) % 8 != 0 {
            strings.push(0);
        }
        let ext_off = header_len + strings.len();
        let mut d = Vec::new();
        d.extend_from_slice(MAGIC_NEW);
        d.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        d.extend_from_slice(&(strings.len() as u32).to_le_bytes());
        d.extend_from_slice(&[2, 0, 0, 0]);
        d.extend_from_slice(&(if hwcaps.is_empty() { 0 } else { ext_off as u32 }).to_le_bytes());
        d.extend_from_slice(&[0u8; 12]);
        for ((flags, _, _, hw), (ko, vo)) in entries.iter().zip(&offs) {
            d.extend_from_slice(&flags.to_le_bytes());
            d.extend_from_slice(&ko.to_le_bytes());
            d.extend_from_slice(&vo.to_le_bytes());
            d.extend_from_slice(&0u32.to_le_bytes());
            d.extend_from_slice(&hw.to_le_bytes());
        }
        d.extend_from_slice(&strings);
        if !hwcaps.is_empty() {
            let table_off = ext_off + 8 + 16;
            d.extend_from_slice(&EXTENSION_MAGIC.to_le_bytes());
            d.extend_from_slice(&1u32.to_le_bytes());
            d.extend_from_slice(&0u32.to_le_bytes());
            d.extend_from_slice(&0u32.to_le_bytes());
            d.extend_from_slice(&(table_off as u32).to_le_bytes());
            d.extend_from_slice(&((hwcaps.len() * 4) as u32).to_le_bytes());
            for o in hw_offs {
                d.extend_from_slice(&o.to_le_bytes());
            }
        }
        d
    }

    #[test]
    fn lookup_prefers_supported_hwcaps_and_right_arch() {
        let x = 0x0303;
        let data = build(
            &[
                (
                    x,
                    "libfoo.so.1",
                    "/usr/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v4/libfoo.so.1",
                    HWCAP_EXTENSION | 1,
                ),
                (
                    x,
                    "libfoo.so.1",
                    "/usr/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/libfoo.so.1",
                    HWCAP_EXTENSION,
                ),
                (x, "libfoo.so.1", "/usr/lib/x86_64-linux-gnu/libfoo.so.1", 0),
                (
                    0x0003,
                    "libfoo.so.1",
                    "/usr/lib/i386-linux-gnu/libfoo.so.1",
                    0,
                ),
            ],
            &["x86-64-v3", "x86-64-v4"],
        );
        let c = LdSoCache::parse(&data).unwrap();
        assert_eq!(c.entries.len(), 4);
        assert_eq!(c.entries[0].hwcaps.as_deref(), Some("x86-64-v4"));
        let v3_only = |h: &str| if h == "x86-64-v3" { 1 } else { 0 };
        assert_eq!(
            c.lookup("libfoo.so.1", FLAG_X8664_LIB64, &v3_only)
                .unwrap()
                .path,
            "/usr/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/libfoo.so.1"
        );
        let none = |_: &str| 0;
        assert_eq!(
            c.lookup("libfoo.so.1", FLAG_X8664_LIB64, &none)
                .unwrap()
                .path,
            "/usr/lib/x86_64-linux-gnu/libfoo.so.1"
        );
        assert_eq!(c.all_for("libfoo.so.1", FLAG_X8664_LIB64).count(), 3);
        assert!(c.lookup("libbar.so", FLAG_X8664_LIB64, &none).is_none());
    }

    #[test]
    fn truncated_or_foreign_data_is_handled() {
        assert!(LdSoCache::parse(b"not a cache").is_none());
        let data = build(&[(0x0303, "liba.so", "/lib/liba.so", 0)], &[]);
        for cut in 0..data.len() {
            let _ = LdSoCache::parse(&data[..cut]);
        }
    }
}
