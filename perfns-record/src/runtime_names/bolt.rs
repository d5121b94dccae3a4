//! A read-only reader of BoltDB files (go.etcd.io/bbolt's format), for
//! the one thing perfns reads from one: Podman's state database, libpod's
//! `GRAPHROOT/libpod/bolt_state.db`, where `podman run --label` keeps a
//! container's labels (nowhere else on disk: not containers/storage's
//! containers.json, not the OCI config.json).
//!
//! Not a crate: the Rust ports of bbolt (bbolt-rs, nut) map the file and
//! lock it as bbolt does (`flock`, which waits while Podman writes); the
//! small read-only parser (bolt-lite) descends branch pages to the wrong
//! child and slices without bounds checks. This reader copies the
//! file into memory, takes no lock, checks every offset, and bounds its
//! walk, so a file that Podman is rewriting reads as an error, never a
//! hang or a panic.
//!
//! The layout (bbolt's page.go, meta.go), little-endian on x86_64:
//!
//! ```text
//! page      { id u64, flags u16, count u16, overflow u32 }   16 bytes, then
//!           count elements of 16 bytes; a page spans 1 + overflow pages
//! meta      { magic u32 = 0xED0CDAED, version u32 = 2, page_size u32,
//!             flags u32, root { root_pgid u64, sequence u64 },
//!             freelist u64, pgid u64, txid u64, checksum u64 }
//!           after the page header of pages 0 and 1; checksum: FNV-1a 64 of
//!           the 56 bytes before it; the valid one with the larger txid wins
//! branch    { pos u32, ksize u32, pgid u64 }: key at element + pos
//! leaf      { flags u32, pos u32, ksize u32, vsize u32 }: key at
//!           element + pos, value after it; flags 1: the value is a bucket
//! bucket    { root_pgid u64, sequence u64 }, and when root_pgid is 0 an
//!           inline leaf page right after it, in the value
//! ```

use std::path::Path;

const PAGE_HEADER: usize = 16;
const ELEMENT: usize = 16;
const BRANCH_PAGE: u16 = 0x01;
const LEAF_PAGE: u16 = 0x02;
const META_PAGE: u16 = 0x04;
const BUCKET_LEAF: u32 = 0x01;
const MAGIC: u32 = 0xED0C_DAED;
const VERSION: u32 = 2;
/// The meta fields before the checksum.
const META_CHECKED: usize = 56;
/// Deeper than any tree of a file this size; a branch loop stops here.
const MAX_DEPTH: usize = 32;
/// libpod's state database is hundreds of KiB; a file past this is not
/// one, and is not read into memory.
const MAX_FILE: u64 = 256 << 20;

/// What is wrong with a BoltDB file, and where.
#[derive(Debug, thiserror::Error)]
#[error("offset {offset}: {what}")]
pub struct BoltError {
    /// The byte offset in the file of what could not be read.
    pub offset: usize,
    /// What could not be read there.
    pub what: String,
}

fn malformed(offset: usize, what: impl Into<String>) -> BoltError {
    BoltError {
        offset,
        what: what.into(),
    }
}

/// A BoltDB file, in memory.
#[derive(Debug)]
pub struct BoltFile {
    data: Vec<u8>,
    page_size: usize,
    root: u64,
}

/// A bucket of a [`BoltFile`]: its root page, or its inline page.
#[derive(Debug, Clone, Copy)]
pub struct Bucket<'a> {
    file: &'a BoltFile,
    /// The byte range of its inline page, or `None` with `root`.
    inline: Option<(usize, usize)>,
    root: u64,
}

/// A key and its value (a bucket's header when `is_bucket`).
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// The key.
    pub key: &'a [u8],
    /// The value.
    pub value: &'a [u8],
    /// Whether the value is a nested bucket.
    pub is_bucket: bool,
    /// Where the value starts in the file.
    offset: usize,
}

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(data: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(data.get(at..at + 8)?.try_into().ok()?))
}

/// FNV-1a, 64 bits: bbolt's meta checksum.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A meta page's (txid, root bucket page) at `at`, if it is a valid one of
/// `page_size`.
fn meta_at(data: &[u8], at: usize, page_size: Option<usize>) -> Option<(u64, u64, usize)> {
    let m = at + PAGE_HEADER;
    let flags = u16_at(data, at + 8)?;
    let size = u32_at(data, m + 8)? as usize;
    let valid = flags & META_PAGE != 0
        && u32_at(data, m)? == MAGIC
        && u32_at(data, m + 4)? == VERSION
        && page_size.is_none_or(|p| p == size)
        && size >= 512
        && u64_at(data, m + META_CHECKED)? == fnv1a64(data.get(m..m + META_CHECKED)?);
    if !valid {
        return None;
    }
    Some((u64_at(data, m + 48)?, u64_at(data, m + 16)?, size))
}

impl BoltFile {
    /// Reads a BoltDB file; `None` when it is not there.
    pub fn read(path: &Path) -> Option<Result<BoltFile, BoltError>> {
        use std::io::Read;
        let file = std::fs::File::open(path).ok()?;
        let too_large = || {
            malformed(
                0,
                format!("larger than {MAX_FILE} bytes: no Podman state database"),
            )
        };
        if file.metadata().is_ok_and(|m| m.len() > MAX_FILE) {
            return Some(Err(too_large()));
        }
        let mut data = Vec::new();
        // Bounded again: the file may grow while it is read.
        if let Err(e) = file.take(MAX_FILE + 1).read_to_end(&mut data) {
            return Some(Err(malformed(data.len(), format!("read: {e}"))));
        }
        if data.len() as u64 > MAX_FILE {
            return Some(Err(too_large()));
        }
        Some(BoltFile::parse(data))
    }

    /// Parses a BoltDB file's bytes: its newest valid meta page.
    pub fn parse(data: Vec<u8>) -> Result<BoltFile, BoltError> {
        let meta0 = meta_at(&data, 0, None);
        // Page 1 is one page in: meta 0's size, else (meta 0 damaged) the
        // sizes bbolt uses.
        let meta1 = match meta0 {
            Some((_, _, size)) => meta_at(&data, size, Some(size)),
            None => [4096, 8192, 16384, 65536]
                .into_iter()
                .find_map(|size| meta_at(&data, size, Some(size))),
        };
        let newest = match (meta0, meta1) {
            (Some(a), Some(b)) => Some(if b.0 > a.0 { b } else { a }),
            (a, b) => a.or(b),
        };
        let Some((_, root, page_size)) = newest else {
            return Err(malformed(
                0,
                "no valid meta page (magic 0xED0CDAED, version 2, checksum) at page 0 or 1: \
                 not a BoltDB file",
            ));
        };
        Ok(BoltFile {
            data,
            page_size,
            root,
        })
    }

    /// The root bucket, whose entries are the top-level buckets.
    pub fn root(&self) -> Bucket<'_> {
        Bucket {
            file: self,
            inline: None,
            root: self.root,
        }
    }

    /// Page `pgid`'s bytes, overflow pages included.
    fn page(&self, pgid: u64, from: usize) -> Result<(usize, usize), BoltError> {
        let start = usize::try_from(pgid)
            .ok()
            .and_then(|p| p.checked_mul(self.page_size))
            .filter(|&s| {
                s.checked_add(PAGE_HEADER)
                    .is_some_and(|e| e <= self.data.len())
            })
            .ok_or_else(|| malformed(from, format!("page {pgid} is past the file's end")))?;
        if u64_at(&self.data, start) != Some(pgid) {
            return Err(malformed(start, format!("page {pgid} says it is another")));
        }
        let overflow = u32_at(&self.data, start + 12).unwrap_or(0) as usize;
        let end = overflow
            .checked_add(1)
            .and_then(|n| n.checked_mul(self.page_size))
            .and_then(|n| n.checked_add(start))
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| {
                malformed(
                    start,
                    format!("page {pgid}'s {overflow} overflow pages are past the file's end"),
                )
            })?;
        Ok((start, end))
    }
}

impl<'a> Bucket<'a> {
    /// Its entries, in key order.
    pub fn entries(&self) -> Result<Vec<Entry<'a>>, BoltError> {
        let mut out = Vec::new();
        // Each page of a tree is reached once: more is a loop.
        let mut budget = self.file.data.len() / self.file.page_size + 1;
        match self.inline {
            Some(range) => self.page_entries(range, 0, &mut budget, &mut out)?,
            None => {
                let range = self.file.page(self.root, 0)?;
                self.page_entries(range, 0, &mut budget, &mut out)?;
            }
        }
        Ok(out)
    }

    /// The nested bucket `name`, if it has one.
    pub fn bucket(&self, name: &[u8]) -> Result<Option<Bucket<'a>>, BoltError> {
        let Some(e) = self.entries()?.into_iter().find(|e| e.key == name) else {
            return Ok(None);
        };
        if !e.is_bucket {
            return Ok(None);
        }
        self.nested(&e).map(Some)
    }

    /// The value of `key`, if it has one that is no bucket.
    pub fn get(&self, key: &[u8]) -> Result<Option<&'a [u8]>, BoltError> {
        Ok(self
            .entries()?
            .into_iter()
            .find(|e| e.key == key && !e.is_bucket)
            .map(|e| e.value))
    }

    /// The bucket whose header is `e`'s value.
    pub fn nested(&self, e: &Entry<'a>) -> Result<Bucket<'a>, BoltError> {
        let root =
            u64_at(e.value, 0).ok_or_else(|| malformed(e.offset, "a bucket's header cut short"))?;
        let inline = (root == 0).then(|| (e.offset + 16, e.offset + e.value.len()));
        if inline.is_some_and(|(s, end)| s + PAGE_HEADER > end) {
            return Err(malformed(e.offset, "an inline bucket without its page"));
        }
        Ok(Bucket {
            file: self.file,
            inline,
            root,
        })
    }

    fn page_entries(
        &self,
        (start, end): (usize, usize),
        depth: usize,
        budget: &mut usize,
        out: &mut Vec<Entry<'a>>,
    ) -> Result<(), BoltError> {
        let data: &'a [u8] = &self.file.data;
        if depth > MAX_DEPTH || *budget == 0 {
            return Err(malformed(start, "a branch page reached again: a loop"));
        }
        *budget -= 1;
        let page = &data[start..end];
        let (Some(flags), Some(count)) = (u16_at(page, 8), u16_at(page, 10)) else {
            return Err(malformed(start, "a page header cut short"));
        };
        for i in 0..usize::from(count) {
            let elem = PAGE_HEADER + i * ELEMENT;
            if elem + ELEMENT > page.len() {
                return Err(malformed(
                    start + elem,
                    format!("element {i} of {count} is past its page's end"),
                ));
            }
            let field = |n: usize| u32_at(page, elem + 4 * n).unwrap_or(0) as usize;
            if flags & LEAF_PAGE != 0 {
                let (is_bucket, pos, ksize, vsize) = (
                    field(0) as u32 & BUCKET_LEAF != 0,
                    field(1),
                    field(2),
                    field(3),
                );
                let key = elem.checked_add(pos);
                let value = key.and_then(|k| k.checked_add(ksize));
                let value_end = value.and_then(|v| v.checked_add(vsize));
                let (Some(key), Some(value), Some(value_end)) = (key, value, value_end) else {
                    return Err(malformed(start + elem, "a leaf element's sizes overflow"));
                };
                if value_end > page.len() {
                    return Err(malformed(
                        start + elem,
                        format!("leaf element {i}'s key and value are past its page's end"),
                    ));
                }
                out.push(Entry {
                    key: &data[start + key..start + value],
                    value: &data[start + value..start + value_end],
                    is_bucket,
                    offset: start + value,
                });
            } else if flags & BRANCH_PAGE != 0 && self.inline.is_none() {
                let child = u64_at(page, elem + 8).unwrap_or(0);
                let range = self.file.page(child, start + elem)?;
                self.page_entries(range, depth + 1, budget, out)?;
            } else {
                return Err(malformed(
                    start,
                    format!("a page of flags {flags:#x} where a leaf or branch page belongs"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
// A test's unwrap failing is its report.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const PAGE: usize = 4096;

    /// A leaf page `pgid` of `entries` (key, value, is_bucket).
    fn leaf(pgid: u64, entries: &[(&[u8], &[u8], bool)]) -> Vec<u8> {
        let mut p = vec![0u8; PAGE];
        p[..8].copy_from_slice(&pgid.to_le_bytes());
        p[8..10].copy_from_slice(&LEAF_PAGE.to_le_bytes());
        p[10..12].copy_from_slice(&(entries.len() as u16).to_le_bytes());
        let mut at = PAGE_HEADER + entries.len() * ELEMENT;
        for (i, (k, v, b)) in entries.iter().enumerate() {
            let e = PAGE_HEADER + i * ELEMENT;
            let fields = [
                u32::from(*b),
                (at - e) as u32,
                k.len() as u32,
                v.len() as u32,
            ];
            for (n, f) in fields.iter().enumerate() {
                p[e + 4 * n..e + 4 * n + 4].copy_from_slice(&f.to_le_bytes());
            }
            p[at..at + k.len()].copy_from_slice(k);
            p[at + k.len()..at + k.len() + v.len()].copy_from_slice(v);
            at += k.len() + v.len();
        }
        p
    }

    fn meta(pgid: u64, txid: u64, root: u64) -> Vec<u8> {
        let mut p = vec![0u8; PAGE];
        p[..8].copy_from_slice(&pgid.to_le_bytes());
        p[8..10].copy_from_slice(&META_PAGE.to_le_bytes());
        let m = PAGE_HEADER;
        p[m..m + 4].copy_from_slice(&MAGIC.to_le_bytes());
        p[m + 4..m + 8].copy_from_slice(&VERSION.to_le_bytes());
        p[m + 8..m + 12].copy_from_slice(&(PAGE as u32).to_le_bytes());
        p[m + 16..m + 24].copy_from_slice(&root.to_le_bytes());
        p[m + 48..m + 56].copy_from_slice(&txid.to_le_bytes());
        let sum = fnv1a64(&p[m..m + META_CHECKED]);
        p[m + 56..m + 64].copy_from_slice(&sum.to_le_bytes());
        p
    }

    /// A file: metas 0 and 1 (1 newer, root page 3; 0 older, root page
    /// 2), an old root on page 2, and on page 3 a root whose bucket `ctr`
    /// is inline, with `id1` a bucket on page 4.
    fn file() -> Vec<u8> {
        let mut inline_page = leaf(0, &[(b"id1", &[0u8; 16], true)]);
        inline_page.truncate(PAGE_HEADER + ELEMENT + 3 + 16);
        let mut id1 = 4u64.to_le_bytes().to_vec();
        id1.extend([0u8; 8]);
        inline_page[PAGE_HEADER + ELEMENT + 3..].copy_from_slice(&id1);
        let mut ctr = vec![0u8; 16];
        ctr.extend(&inline_page);
        let mut f = meta(0, 6, 2);
        f.extend(meta(1, 7, 3));
        f.extend(leaf(2, &[(b"old", b"", false)]));
        f.extend(leaf(3, &[(b"ctr", &ctr, true), (b"k", b"v", false)]));
        f.extend(leaf(4, &[(b"config", b"{\"labels\":{}}", false)]));
        f
    }

    #[test]
    fn the_newest_meta_and_inline_and_page_buckets_are_read() {
        let db = BoltFile::parse(file()).unwrap();
        let root = db.root();
        assert_eq!(root.get(b"k").unwrap(), Some(&b"v"[..]));
        assert!(root.get(b"old").unwrap().is_none());
        let ctr = root.bucket(b"ctr").unwrap().unwrap();
        let id1 = ctr.bucket(b"id1").unwrap().unwrap();
        assert_eq!(id1.get(b"config").unwrap(), Some(&b"{\"labels\":{}}"[..]));
    }

    #[test]
    fn a_damaged_newest_meta_falls_back_to_the_other() {
        let mut f = file();
        f[PAGE + PAGE_HEADER + 20] ^= 1;
        let db = BoltFile::parse(f).unwrap();
        assert_eq!(db.root().get(b"old").unwrap(), Some(&b""[..]));
    }

    #[test]
    fn not_a_bolt_file_says_so() {
        let e = BoltFile::parse(b"SQLite format 3\0".repeat(600)).unwrap_err();
        assert!(e.to_string().contains("not a BoltDB file"), "{e}");
    }

    #[test]
    fn a_branch_loop_is_an_error() {
        let mut f = file();
        // Page 3 becomes a branch page whose one child is itself.
        let p = 3 * PAGE;
        f[p + 8..p + 10].copy_from_slice(&BRANCH_PAGE.to_le_bytes());
        f[p + 10..p + 12].copy_from_slice(&1u16.to_le_bytes());
        f[p + 24..p + 32].copy_from_slice(&3u64.to_le_bytes());
        let e = BoltFile::parse(f).unwrap().root().entries().unwrap_err();
        assert!(e.to_string().contains("a loop"), "{e}");
    }

    /// Every byte of the file changed, and the file cut at every length:
    /// an error or a read, never a panic.
    #[test]
    fn damaged_files_never_panic() {
        let walk = |data: Vec<u8>| {
            let Ok(db) = BoltFile::parse(data) else {
                return;
            };
            let Ok(entries) = db.root().entries() else {
                return;
            };
            for e in entries.iter().filter(|e| e.is_bucket) {
                if let Ok(b) = db.root().nested(e) {
                    for e in b.entries().into_iter().flatten().filter(|e| e.is_bucket) {
                        let _ = b.nested(&e).and_then(|b| b.entries());
                    }
                }
            }
        };
        let f = file();
        for at in (0..f.len()).step_by(7) {
            for flip in [0x01, 0x80, 0xff] {
                let mut g = f.clone();
                g[at] ^= flip;
                walk(g);
            }
        }
        for len in (0..f.len()).step_by(97) {
            walk(f[..len].to_vec());
        }
    }
}
