//! The per-CPU perf ring buffer reader: walks the records the kernel wrote
//! into an event's mmap area and hands them out without copying.
//!
//! The mapping is one metadata page (`struct perf_event_mmap_page`) followed
//! by `2^n` data pages. The kernel writes records at `data_head`; we read from
//! `data_tail` up to it and then move `data_tail` on, which gives the space
//! back. Both are free-running byte positions, taken modulo the data size.
//! Because the mapping is writable the kernel never overwrites unread data:
//! when the buffer is full it drops records and later writes a
//! PERF_RECORD_LOST saying how many.
//!
//! The walk itself is a pure function over the readable bytes (two slices
//! when they wrap the end of the data area), so that it is tested on fake
//! buffers as well as on the kernel's.

use std::convert::Infallible;
use std::ops::Range;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::{io, mem, slice};

use byteorder::NativeEndian;
use memmap2::{MmapOptions, MmapRaw};
use perf_event_open_sys::bindings::perf_event_mmap_page;

use crate::abi;
use crate::record::{RawData, RawRecord, RecordHeader, RecordType};

/// What a drain consumed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrainStats {
    /// Records handed to the callback.
    pub records: u64,
    /// Their bytes, headers included.
    pub bytes: u64,
}

/// A drain that stopped early.
///
/// Whatever was consumed up to the failure is given back to the kernel
/// either way; `drained` counts it.
#[derive(Debug, thiserror::Error)]
pub enum DrainError<E> {
    /// The buffer holds something that is not a record where one should
    /// start. The kernel never writes that, so this means the positions
    /// are out of step; the reader skips to `data_head`, where the next
    /// record will start, so the buffer keeps working.
    #[error(
        "corrupt perf ring buffer at position {position} (byte {offset} of the \
         {data_size}-byte data area): {reason}; skipped {skipped} bytes to data_head"
    )]
    Corrupt {
        /// The ring position (a free-running byte count) of the bad record.
        position: u64,
        /// Its byte offset in the data area.
        offset: u64,
        /// The size of the data area.
        data_size: u64,
        /// What is wrong.
        reason: String,
        /// Bytes thrown away to resynchronise with the kernel.
        skipped: u64,
        /// What was consumed before the bad record.
        drained: DrainStats,
    },
    /// Writing a batch of records out failed ([`RingBuffer::drain_batch`]).
    /// They count as consumed: they are not handed out again.
    #[error("writing {} bytes of records from ring position {position}", drained.bytes)]
    Write {
        /// The ring position of the batch's first record.
        position: u64,
        /// The batch.
        drained: DrainStats,
        /// The writer's error.
        #[source]
        source: E,
    },
    /// The callback failed on a record. That record counts as consumed:
    /// it is not handed out again.
    #[error("handling the {kind:?} record at ring position {position}")]
    Record {
        /// The record's ring position.
        position: u64,
        /// Its type.
        kind: RecordType,
        /// What was consumed, the failed record included.
        drained: DrainStats,
        /// The callback's error.
        #[source]
        source: E,
    },
}

/// One perf event's ring buffer, mapped.
///
/// Events of the same CPU share it through [`abi::set_output`]. The mapping
/// keeps the event alive by itself; the caller keeps the fd to poll it and
/// to enable or disable the event.
#[derive(Debug)]
pub struct RingBuffer {
    mmap: MmapRaw,
    /// Offset of the data area in the mapping: one page.
    data_offset: usize,
    /// Size of the data area, a power of two.
    data_size: u64,
}

/// Why a tracer-scoped event's buffer was refused with EDQUOT: the tracer
/// namespace's ring-buffer budget, what is left of it and what to ask for.
fn budget_hint(wanted: u64) -> String {
    let kib = |b: u64| b.div_ceil(1024);
    match crate::abi::tracer_scope::own_buffer_budget() {
        Some(crate::abi::tracer_scope::BufferBudget {
            limit: Some(limit),
            used,
        }) => format!(
            ": over the ring-buffer budget of this tracer namespace (or of one it is nested \
             in): {} KiB of its {} KiB are mapped (by its readers and those of the \
             namespaces nested in it), {} KiB are left and this buffer needs {} KiB; use a \
             smaller -m/--mmap-pages, or ask whoever set the limit (perfns run-container \
             --trace-buffer-limit, from outside the container) for more",
            kib(used),
            kib(limit),
            kib(limit.saturating_sub(used)),
            kib(wanted)
        ),
        _ => ": over the tracer namespace's ring-buffer budget (or an ancestor's); use a \
               smaller -m/--mmap-pages"
            .to_string(),
    }
}

impl RingBuffer {
    /// Maps the ring buffer of the event `fd` with `data_pages` data pages,
    /// which must be a power of two (the kernel's rule).
    ///
    /// An unprivileged user may map at most `perf_event_mlock_kb`
    /// (/proc/sys/kernel/perf_event_mlock_kb) per CPU; the error says so.
    pub fn new(fd: BorrowedFd<'_>, data_pages: usize) -> io::Result<Self> {
        if !data_pages.is_power_of_two() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{data_pages} ring buffer data pages: the kernel needs a power of two"),
            ));
        }
        let page = abi::page_size()?;
        let too_big = || {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{data_pages} ring buffer data pages of {page} bytes do not fit in memory"),
            )
        };
        let data_size = page.checked_mul(data_pages).ok_or_else(too_big)?;
        let len = data_size.checked_add(page).ok_or_else(too_big)?;
        let mmap = MmapOptions::new()
            .len(len)
            .map_raw(fd.as_raw_fd())
            .map_err(|e| {
                let hint = match e.raw_os_error() {
                    Some(libc::EPERM | libc::ENOMEM) => {
                        ": more than /proc/sys/kernel/perf_event_mlock_kb allows without \
                         CAP_IPC_LOCK, or out of memory"
                            .to_string()
                    }
                    Some(libc::EDQUOT) => budget_hint(len as u64),
                    _ => String::new(),
                };
                io::Error::new(
                    e.kind(),
                    format!("mapping the perf ring buffer ({data_pages} data pages): {e}{hint}"),
                )
            })?;
        Ok(Self {
            mmap,
            data_offset: page,
            data_size: data_size as u64,
        })
    }

    /// The size of the data area in bytes.
    pub fn data_size(&self) -> u64 {
        self.data_size
    }

    /// `data_head` or `data_tail` of the metadata page.
    fn position(&self, field_offset: usize) -> &AtomicU64 {
        // SAFETY: the mapping starts with a perf_event_mmap_page and lives
        // as long as `self`; `field_offset` is that of one of its u64 fields,
        // so the pointer is in bounds and 8-byte aligned (the mapping is
        // page-aligned). The kernel and we access these fields only as
        // whole aligned u64s, which is what AtomicU64 requires.
        unsafe { AtomicU64::from_ptr(self.mmap.as_mut_ptr().add(field_offset).cast::<u64>()) }
    }

    fn data_head(&self) -> &AtomicU64 {
        self.position(mem::offset_of!(perf_event_mmap_page, data_head))
    }

    fn data_tail(&self) -> &AtomicU64 {
        self.position(mem::offset_of!(perf_event_mmap_page, data_tail))
    }

    /// Bytes written by the kernel and not yet drained.
    pub fn pending(&self) -> u64 {
        let head = self.data_head().load(Ordering::Acquire);
        head.wrapping_sub(self.data_tail().load(Ordering::Relaxed))
    }

    /// Hands every record written so far to `f`, oldest first, then gives
    /// their space back to the kernel.
    ///
    /// Records that wrap the end of the data area come as
    /// [`RawData::Split`], not copied. The tail is committed once, when the
    /// drain ends, however it ends: with an error from `f` (the failed
    /// record counts as consumed), with a panic in `f`, or on a corrupt
    /// record (then everything up to `data_head` is skipped).
    pub fn drain<E, F>(&mut self, mut f: F) -> Result<DrainStats, DrainError<E>>
    where
        F: FnMut(RawRecord<'_>) -> Result<(), E>,
    {
        let size = self.data_size;
        self.with_pending(|tail, head, area, consumed| {
            drain_area(size, tail, head, area, consumed, &mut f)
        })
    }

    /// Hands every record written so far to `note`, oldest first, for a
    /// look at its header or a field, then all of their bytes at once to
    /// `write`: whole records back to back, as the kernel wrote them
    /// ([`RawData::Split`] where they wrap the end of the data area, not
    /// copied); then gives their space back to the kernel. This is perf
    /// record's way (perf_mmap__push in tools/perf/util/mmap.c): the bytes
    /// go out in one or two pieces, never record by record.
    ///
    /// The tail is committed once, as with [`Self::drain`]: after a failed
    /// `write` the batch counts as consumed; on a corrupt record the whole
    /// records before it are written, and the rest up to `data_head` is
    /// skipped.
    pub fn drain_batch<E>(
        &mut self,
        mut note: impl FnMut(&RawRecord<'_>),
        write: impl FnOnce(RawData<'_>) -> Result<(), E>,
    ) -> Result<DrainStats, DrainError<E>> {
        let size = self.data_size;
        self.with_pending(|tail, head, area, consumed| {
            drain_area_batch(size, tail, head, area, consumed, &mut note, write)
        })
    }

    /// Runs `walk` over the bytes written so far: it gets data_tail,
    /// data_head, the data area's byte ranges, and the
    /// position to commit to data_tail, which is stored when `walk`
    /// returns or panics. The slices cannot outlive `walk` (it is generic
    /// over their lifetime, and its result is not).
    fn with_pending<R>(
        &mut self,
        walk: impl for<'a> FnOnce(u64, u64, &'a dyn Fn(Range<usize>) -> &'a [u8], &mut u64) -> R,
    ) -> R {
        // Acquire pairs with the kernel's smp_wmb() before it stores
        // data_head (perf_output_put_handle, kernel/events/ring_buffer.c):
        // the records up to `head` are visible once we see `head`.
        let head = self.data_head().load(Ordering::Acquire);
        // Only this reader writes data_tail.
        let tail = self.data_tail().load(Ordering::Relaxed);
        let mut commit = TailCommit {
            data_tail: self.data_tail(),
            committed: tail,
            position: tail,
        };
        let data = self.mmap.as_ptr().wrapping_add(self.data_offset);
        // SAFETY: the walks (drain_area, drain_area_batch) ask only for
        // ranges within the data area (pending_ranges keeps them under
        // data_size), which the mapping holds after its first page. They
        // cover exactly the bytes from data_tail to data_head: the kernel
        // wrote them before publishing data_head (made visible by the
        // acquire load above) and does not write them again until we move
        // data_tail past them, which happens only when `commit` drops,
        // after `walk` has returned and with it the last use of these
        // slices. The mapping is writable, so the kernel is not in
        // overwrite mode.
        let area = |r: Range<usize>| unsafe { slice::from_raw_parts(data.add(r.start), r.len()) };
        walk(tail, head, &area, &mut commit.position)
    }
}

/// The walk of [`RingBuffer::drain_batch`] over the bytes from `tail` to
/// `head` of a data area of `data_size` bytes, apart from the mapping:
/// every record to `note`, then the whole records, back to back, to
/// `write`. `consumed` ends where the drain commits data_tail.
fn drain_area_batch<'a, E>(
    data_size: u64,
    tail: u64,
    head: u64,
    area: impl Fn(Range<usize>) -> &'a [u8],
    consumed: &mut u64,
    note: &mut impl FnMut(&RawRecord<'a>),
    write: impl FnOnce(RawData<'a>) -> Result<(), E>,
) -> Result<DrainStats, DrainError<E>> {
    let (first, second) = pending_or_skip(data_size, tail, head, consumed)?;
    let (first, second) = (area(first), area(second));
    let walked = walk_records(first, second, tail, data_size, consumed, &mut |raw| {
        note(&raw);
        Ok::<(), Infallible>(())
    });
    let (stats, corrupt) = match walked {
        Ok(stats) => (stats, None),
        Err(DrainError::Corrupt {
            position,
            offset,
            data_size,
            reason,
            skipped,
            drained,
        }) => (
            drained,
            Some(DrainError::Corrupt {
                position,
                offset,
                data_size,
                reason,
                skipped,
                drained,
            }),
        ),
        Err(DrainError::Write { source, .. } | DrainError::Record { source, .. }) => {
            match source {}
        }
    };
    if stats.bytes > 0 {
        // The whole records before a corrupt one are written all the same.
        let records = sub_range(first, second, 0, stats.bytes as usize);
        write(records).map_err(|source| DrainError::Write {
            position: tail,
            drained: stats,
            source,
        })?;
    }
    match corrupt {
        Some(e) => Err(e),
        None => Ok(stats),
    }
}

/// Drains the bytes from `tail` to `head` of a data area of `data_size`
/// bytes (a power of two), whose byte ranges `area` gives: the walk of
/// [`RingBuffer::drain`], apart from the mapping. `consumed` ends where
/// the drain commits data_tail.
fn drain_area<'a, E>(
    data_size: u64,
    tail: u64,
    head: u64,
    area: impl Fn(Range<usize>) -> &'a [u8],
    consumed: &mut u64,
    f: &mut impl FnMut(RawRecord<'a>) -> Result<(), E>,
) -> Result<DrainStats, DrainError<E>> {
    let (first, second) = pending_or_skip(data_size, tail, head, consumed)?;
    walk_records(area(first), area(second), tail, data_size, consumed, f)
}

/// Drains a fake data area `area` (its length a power of two) with the
/// positions `tail` and `head`, as [`RingBuffer::drain`] drains the
/// kernel's; returns the result and the position the drain would store in
/// data_tail. The fuzz targets' way in.
///
/// # Panics
///
/// If `area`'s length is not a power of two, which a mapped ring's always is.
#[cfg(feature = "fuzzing")]
pub fn drain_fake<E>(
    area: &[u8],
    tail: u64,
    head: u64,
    f: &mut impl FnMut(RawRecord<'_>) -> Result<(), E>,
) -> (Result<DrainStats, DrainError<E>>, u64) {
    assert!(
        area.len().is_power_of_two(),
        "a ring's data area is 2^n bytes"
    );
    let mut consumed = tail;
    let result = drain_area(
        area.len() as u64,
        tail,
        head,
        |r| &area[r],
        &mut consumed,
        f,
    );
    (result, consumed)
}

/// Stores data_tail when a drain ends, even by panic.
struct TailCommit<'a> {
    data_tail: &'a AtomicU64,
    committed: u64,
    /// The ring position up to which records are consumed.
    position: u64,
}

impl Drop for TailCommit<'_> {
    fn drop(&mut self) {
        if self.position != self.committed {
            // Release pairs with the kernel's smp_mb() in perf_output_begin()
            // before it reads data_tail: our reads of the records happen
            // before the kernel may overwrite them.
            self.data_tail.store(self.position, Ordering::Release);
        }
    }
}

/// [`pending_ranges`], or, when head and tail cannot be right, the error
/// that says so, with everything up to the head given up (`consumed`
/// moves there), so that the next drain starts clean.
fn pending_or_skip<E>(
    data_size: u64,
    tail: u64,
    head: u64,
    consumed: &mut u64,
) -> Result<(Range<usize>, Range<usize>), DrainError<E>> {
    pending_ranges(data_size, tail, head).map_err(|reason| {
        *consumed = head;
        corrupt(
            tail,
            data_size,
            reason,
            head.wrapping_sub(tail),
            DrainStats::default(),
        )
    })
}

/// The index ranges of the data area that hold the bytes from `tail` to
/// `head`: the first from the tail towards the end, the second (maybe empty)
/// from the start. `data_size` is a power of two.
fn pending_ranges(
    data_size: u64,
    tail: u64,
    head: u64,
) -> Result<(Range<usize>, Range<usize>), String> {
    let len = head.wrapping_sub(tail);
    if len > data_size {
        return Err(format!(
            "data_head {head} is not within {data_size} bytes after data_tail {tail}"
        ));
    }
    let start = tail & (data_size - 1);
    let first_len = len.min(data_size - start);
    // Both ends are at most data_size, which fits in usize (it was mapped).
    Ok((
        start as usize..(start + first_len) as usize,
        0..(len - first_len) as usize,
    ))
}

/// A [`DrainError::Corrupt`] for the record at ring `position`.
fn corrupt<E>(
    position: u64,
    data_size: u64,
    reason: String,
    skipped: u64,
    drained: DrainStats,
) -> DrainError<E> {
    DrainError::Corrupt {
        position,
        offset: position & (data_size - 1),
        data_size,
        reason,
        skipped,
        drained,
    }
}

/// The bytes `start..end` of the concatenation of `first` and `second`.
fn sub_range<'a>(first: &'a [u8], second: &'a [u8], start: usize, end: usize) -> RawData<'a> {
    let n = first.len();
    if end <= n {
        RawData::Single(&first[start..end])
    } else if start >= n {
        RawData::Single(&second[start - n..end - n])
    } else {
        RawData::Split(&first[start..], &second[..end - n])
    }
}

/// Walks the records in `first` followed by `second`, the readable bytes of
/// a ring whose first byte is at ring position `start`, handing each to `f`.
///
/// `consumed` is moved past each record before `f` sees it, and to the end
/// on a corrupt record, so that the caller can commit it however the walk
/// ends.
fn walk_records<'a, E>(
    first: &'a [u8],
    second: &'a [u8],
    start: u64,
    data_size: u64,
    consumed: &mut u64,
    f: &mut impl FnMut(RawRecord<'a>) -> Result<(), E>,
) -> Result<DrainStats, DrainError<E>> {
    let total = first.len() + second.len();
    let mut stats = DrainStats::default();
    let mut off = 0;
    while off < total {
        let position = start.wrapping_add(off as u64);
        let left = total - off;
        let bad = |reason: String, consumed: &mut u64| {
            *consumed = start.wrapping_add(total as u64);
            corrupt(position, data_size, reason, left as u64, stats)
        };
        if left < RecordHeader::SIZE {
            return Err(bad(
                format!("{left} bytes before data_head, too few for a header"),
                consumed,
            ));
        }
        // The header is copied out, byte by byte across the wrap if need be.
        let mut header = [0u8; RecordHeader::SIZE];
        header.copy_from_slice(&sub_range(first, second, off, off + RecordHeader::SIZE).as_slice());
        let header = RecordHeader::from_bytes::<NativeEndian>(&header);
        let size = usize::from(header.size);
        if size < RecordHeader::SIZE {
            return Err(bad(
                format!(
                    "{:?} record of size {size}, smaller than its header",
                    header.kind
                ),
                consumed,
            ));
        }
        if size % 8 != 0 {
            // The kernel keeps every record 8-byte aligned (perf_prepare_header).
            return Err(bad(
                format!(
                    "{:?} record of size {size}, not a multiple of 8",
                    header.kind
                ),
                consumed,
            ));
        }
        if size > left {
            return Err(bad(
                format!(
                    "{:?} record of size {size} runs past data_head, {left} bytes away",
                    header.kind
                ),
                consumed,
            ));
        }
        let data = sub_range(first, second, off + RecordHeader::SIZE, off + size);
        off += size;
        *consumed = start.wrapping_add(off as u64);
        stats.records += 1;
        stats.bytes += size as u64;
        f(RawRecord { header, data }).map_err(|source| DrainError::Record {
            position,
            kind: header.kind,
            drained: stats,
            source,
        })?;
    }
    Ok(stats)
}

#[cfg(test)]
// A test's unwrap failing is its report.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A fake data area with records written from ring position `tail`,
    /// wrapping as the kernel would. Returns the area and data_head.
    fn fake_ring(data_size: usize, tail: u64, records: &[(u32, &[u8])]) -> (Vec<u8>, u64) {
        let mut area = vec![0xeeu8; data_size];
        let mut pos = tail;
        for &(kind, body) in records {
            let header = RecordHeader {
                kind: RecordType(kind),
                misc: 0,
                size: (8 + body.len()) as u16,
            };
            for &b in header.to_ne_bytes().iter().chain(body) {
                area[(pos % data_size as u64) as usize] = b;
                pos += 1;
            }
        }
        (area, pos)
    }

    /// A record as handed out: type, body bytes, whether it came split.
    type Seen = (u32, Vec<u8>, bool);

    fn walk_fake(
        area: &[u8],
        tail: u64,
        head: u64,
        mut fail_at: Option<usize>,
    ) -> (Result<DrainStats, DrainError<String>>, u64, Vec<Seen>) {
        let mut consumed = tail;
        let mut seen = Vec::new();
        let size = area.len() as u64;
        let result = drain_area(
            size,
            tail,
            head,
            |r| &area[r],
            &mut consumed,
            &mut |r: RawRecord<'_>| {
                let mut body = Vec::new();
                r.data.copy_to(&mut body);
                seen.push((r.header.kind.0, body, matches!(r.data, RawData::Split(..))));
                match fail_at.as_mut() {
                    Some(0) => Err("callback failed".to_owned()),
                    Some(n) => {
                        *n -= 1;
                        Ok(())
                    }
                    None => Ok(()),
                }
            },
        );
        (result, consumed, seen)
    }

    /// What a batch drain of a fake area did: its result, the position it
    /// would commit, the types `note` saw, and the bytes `write` got (and
    /// whether they came in two pieces); `write` fails if `fail`.
    #[allow(clippy::type_complexity)]
    fn batch_fake(
        area: &[u8],
        tail: u64,
        head: u64,
        fail: bool,
    ) -> (
        Result<DrainStats, DrainError<String>>,
        u64,
        Vec<u32>,
        Option<(Vec<u8>, bool)>,
    ) {
        let mut consumed = tail;
        let (mut noted, mut written) = (Vec::new(), None);
        let result = drain_area_batch(
            area.len() as u64,
            tail,
            head,
            |r| &area[r],
            &mut consumed,
            &mut |r: &RawRecord<'_>| noted.push(r.header.kind.0),
            |bytes: RawData<'_>| {
                let mut all = Vec::new();
                bytes.copy_to(&mut all);
                written = Some((all, matches!(bytes, RawData::Split(..))));
                if fail {
                    Err("disk full".to_owned())
                } else {
                    Ok(())
                }
            },
        );
        (result, consumed, noted, written)
    }

    /// The bytes of `area` from ring position `from` to `to`, unwrapped.
    fn unwrapped(area: &[u8], from: u64, to: u64) -> Vec<u8> {
        (from..to)
            .map(|p| area[(p % area.len() as u64) as usize])
            .collect()
    }

    #[test]
    fn a_batch_is_every_record_noted_then_written_in_one_piece() {
        let records: [(u32, &[u8]); 3] = [(9, &[7; 8]), (2, &[8; 16]), (9, &[9; 8])];
        let (area, head) = fake_ring(128, 8, &records);
        let (r, consumed, noted, written) = batch_fake(&area, 8, head, false);
        assert_eq!(
            r.unwrap(),
            DrainStats {
                records: 3,
                bytes: 56
            }
        );
        assert_eq!((consumed, noted), (head, vec![9, 2, 9]));
        assert_eq!(written, Some((unwrapped(&area, 8, head), false)));
    }

    #[test]
    fn a_batch_that_wraps_is_written_in_two_pieces_not_copied() {
        // From 16 bytes before the end, five times round: the middle
        // record straddles the end.
        let tail = 5 * 64 + 48;
        let records: [(u32, &[u8]); 3] = [(9, &[7; 8]), (2, &[8; 16]), (9, &[9; 8])];
        let (area, head) = fake_ring(64, tail, &records);
        let (r, consumed, noted, written) = batch_fake(&area, tail, head, false);
        assert_eq!(r.unwrap().records, 3);
        assert_eq!((consumed, noted), (head, vec![9, 2, 9]));
        assert_eq!(written, Some((unwrapped(&area, tail, head), true)));
    }

    #[test]
    fn an_empty_batch_writes_nothing() {
        let (area, head) = fake_ring(64, 24, &[]);
        let (r, consumed, noted, written) = batch_fake(&area, 24, head, false);
        assert_eq!(r.unwrap(), DrainStats::default());
        assert_eq!((consumed, noted.len(), written), (24, 0, None));
    }

    #[test]
    fn a_corrupt_record_ends_the_batch_after_the_records_before_it() {
        let (mut area, head) = fake_ring(128, 0, &[(3, &[0; 8]), (9, &[0; 16]), (4, &[])]);
        let bad = RecordHeader {
            kind: RecordType::SAMPLE,
            misc: 0,
            size: 12,
        };
        area[16..24].copy_from_slice(&bad.to_ne_bytes());
        let (r, consumed, noted, written) = batch_fake(&area, 0, head, false);
        match r {
            Err(DrainError::Corrupt {
                position,
                skipped,
                drained,
                ..
            }) => {
                assert_eq!((position, skipped), (16, head - 16));
                assert_eq!(
                    drained,
                    DrainStats {
                        records: 1,
                        bytes: 16
                    }
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(consumed, head, "the reader resynchronises at data_head");
        assert_eq!(noted, vec![3]);
        assert_eq!(written, Some((area[..16].to_vec(), false)));
    }

    #[test]
    fn a_failed_batch_write_counts_the_batch_as_consumed() {
        let (area, head) = fake_ring(64, 0, &[(3, &[0; 8]), (9, &[0; 16])]);
        let (r, consumed, _, written) = batch_fake(&area, 0, head, true);
        match r {
            Err(e @ DrainError::Write { .. }) => assert_eq!(
                e.to_string(),
                "writing 40 bytes of records from ring position 0"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(consumed, head);
        assert!(written.is_some());
    }

    #[test]
    fn empty_ring_hands_out_nothing() {
        let (area, head) = fake_ring(64, 128, &[]);
        let (r, consumed, seen) = walk_fake(&area, 128, head, None);
        assert_eq!(r.unwrap(), DrainStats::default());
        assert_eq!(consumed, 128);
        assert!(seen.is_empty());
    }

    #[test]
    fn records_come_out_in_order() {
        let bodies: [&[u8]; 3] = [
            &[1; 8],
            &[],
            &[2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17],
        ];
        let (area, head) = fake_ring(256, 0, &[(9, bodies[0]), (68, bodies[1]), (3, bodies[2])]);
        assert_eq!(head, 16 + 8 + 24);
        let (r, consumed, seen) = walk_fake(&area, 0, head, None);
        assert_eq!(
            r.unwrap(),
            DrainStats {
                records: 3,
                bytes: 48
            }
        );
        assert_eq!(consumed, 48);
        let expected: Vec<Seen> = vec![
            (9, bodies[0].to_vec(), false),
            (68, vec![], false),
            (3, bodies[2].to_vec(), false),
        ];
        assert_eq!(seen, expected);
    }

    #[test]
    fn header_split_across_the_end_is_read_whole() {
        // A tail 4 bytes before the end puts half the header on each side.
        let body: Vec<u8> = (1..=8).collect();
        let (area, head) = fake_ring(64, 60, &[(14, &body)]);
        assert_eq!(
            &area[60..64],
            &RecordHeader {
                kind: RecordType(14),
                misc: 0,
                size: 16
            }
            .to_ne_bytes()[..4]
        );
        let (r, consumed, seen) = walk_fake(&area, 60, head, None);
        assert_eq!(
            r.unwrap(),
            DrainStats {
                records: 1,
                bytes: 16
            }
        );
        assert_eq!(consumed, 76);
        // The body lies wholly after the wrap.
        assert_eq!(seen, vec![(14, body, false)]);
    }

    #[test]
    fn body_split_across_the_end_is_not_copied() {
        let body: Vec<u8> = (1..=24).collect();
        let (area, head) = fake_ring(64, 48, &[(9, &body)]);
        let mut consumed = 48;
        let (a, b) = pending_ranges(64, 48, head).unwrap();
        assert_eq!((a.clone(), b.clone()), (48..64, 0..16));
        let mut lens = None;
        walk_records(
            &area[a],
            &area[b],
            48,
            64,
            &mut consumed,
            &mut |r: RawRecord<'_>| {
                if let RawData::Split(x, y) = r.data {
                    lens = Some((x.to_vec(), y.to_vec()));
                }
                Ok::<(), ()>(())
            },
        )
        .unwrap();
        assert_eq!(lens, Some((body[..8].to_vec(), body[8..].to_vec())));
        assert_eq!(consumed, 80);
    }

    #[test]
    fn positions_beyond_the_data_size_wrap() {
        // The ring has gone round five times and the records wrap again.
        let tail = 5 * 64 + 32;
        let records: [(u32, &[u8]); 3] = [(9, &[7; 8]), (2, &[8; 16]), (9, &[9; 8])];
        let (area, head) = fake_ring(64, tail, &records);
        assert_eq!(head, tail + 56);
        let (r, consumed, seen) = walk_fake(&area, tail, head, None);
        assert_eq!(
            r.unwrap(),
            DrainStats {
                records: 3,
                bytes: 56
            }
        );
        assert_eq!(consumed, head);
        let expected: Vec<Seen> = vec![
            (9, vec![7; 8], false),
            (2, vec![8; 16], true),
            (9, vec![9; 8], false),
        ];
        assert_eq!(seen, expected);
    }

    #[test]
    fn corrupt_sizes_are_errors_that_skip_to_the_head() {
        for (size, reason) in [
            (0u16, "SAMPLE record of size 0, smaller than its header"),
            (12, "SAMPLE record of size 12, not a multiple of 8"),
            (
                40,
                "SAMPLE record of size 40 runs past data_head, 24 bytes away",
            ),
        ] {
            let (mut area, head) = fake_ring(64, 8, &[(3, &[0; 8]), (9, &[0; 16])]);
            let bad = RecordHeader {
                kind: RecordType::SAMPLE,
                misc: 0,
                size,
            };
            area[24..32].copy_from_slice(&bad.to_ne_bytes());
            let (r, consumed, seen) = walk_fake(&area, 8, head, None);
            match r {
                Err(DrainError::Corrupt {
                    position,
                    offset,
                    reason: got,
                    skipped,
                    drained,
                    ..
                }) => {
                    assert_eq!((position, offset, skipped), (24, 24, 24));
                    assert_eq!(got, reason);
                    assert_eq!(
                        drained,
                        DrainStats {
                            records: 1,
                            bytes: 16
                        }
                    );
                }
                other => panic!("size {size}: {other:?}"),
            }
            assert_eq!(seen.len(), 1);
            assert_eq!(consumed, head, "the reader resynchronises at data_head");
        }
    }

    #[test]
    fn partial_header_and_runaway_head_are_errors() {
        let (area, _) = fake_ring(64, 0, &[(3, &[0; 8])]);
        let (r, consumed, _) = walk_fake(&area, 0, 20, None);
        let e = r.unwrap_err();
        assert_eq!(e.to_string(), "corrupt perf ring buffer at position 16 (byte 16 of the 64-byte data area): 4 bytes before data_head, too few for a header; skipped 4 bytes to data_head");
        assert_eq!(consumed, 20);

        let (r, consumed, seen) = walk_fake(&area, 0, 65, None);
        assert!(
            matches!(
                r,
                Err(DrainError::Corrupt {
                    position: 0,
                    skipped: 65,
                    ..
                })
            ),
            "{r:?}"
        );
        assert_eq!((consumed, seen.len()), (65, 0));
    }

    #[test]
    fn a_failed_record_counts_as_consumed() {
        let (area, head) = fake_ring(64, 0, &[(3, &[0; 8]), (9, &[0; 16]), (4, &[])]);
        let (r, consumed, seen) = walk_fake(&area, 0, head, Some(1));
        match r {
            Err(DrainError::Record {
                position,
                kind,
                drained,
                source,
            }) => {
                assert_eq!(
                    (position, kind, source.as_str()),
                    (16, RecordType::SAMPLE, "callback failed")
                );
                assert_eq!(
                    drained,
                    DrainStats {
                        records: 2,
                        bytes: 40
                    }
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!((consumed, seen.len()), (40, 2));
    }

    /// Tests against the running kernel's ring buffers.
    mod kernel {
        use std::collections::HashMap;
        use std::fs::File;
        use std::io::Read;
        use std::os::fd::{AsFd, OwnedFd};
        use std::time::Duration;

        use byteorder::NativeEndian;

        use super::super::*;
        use crate::abi::{self, Target};
        use crate::attr::{flags, kind, sw, AttrSet, EventAttr, EventDesc, SampleFormat};
        use crate::error::ParseError;
        use crate::record::Record;

        fn is_root() -> bool {
            crate::testing::prerequisite(crate::testing::root()).is_some()
        }

        fn read_count(fd: &OwnedFd) -> u64 {
            let mut buf = [0u8; 8];
            File::from(fd.try_clone().unwrap())
                .read_exact(&mut buf)
                .unwrap();
            u64::from_ne_bytes(buf)
        }

        /// Samples every context switch of the calling thread.
        fn context_switch_attr() -> EventAttr {
            EventAttr {
                kind: kind::SOFTWARE,
                config: sw::CONTEXT_SWITCHES,
                sample_period: 1,
                sample_type: SampleFormat::IDENTIFIER | SampleFormat::TID | SampleFormat::TIME,
                flags: flags::DISABLED | flags::SAMPLE_ID_ALL,
                ..Default::default()
            }
        }

        /// The size of one such sample: header, identifier, pid/tid, time.
        const CONTEXT_SWITCH_SAMPLE_SIZE: u64 = 8 + 8 + 8 + 8;

        fn switch_out(fd: &OwnedFd, times: u32, nap: Duration) {
            abi::enable(fd.as_fd()).unwrap();
            for _ in 0..times {
                std::thread::sleep(nap);
            }
            abi::disable(fd.as_fd()).unwrap();
        }

        /// Drains `ring`, counting samples (checked to be this thread's, of
        /// event `id`) and lost records.
        fn count_samples(
            ring: &mut RingBuffer,
            attr: &EventAttr,
            id: u64,
        ) -> (u64, u64, DrainStats) {
            let (pid, tid) = (std::process::id() as i32, nix::unistd::gettid().as_raw());
            let (mut samples, mut lost) = (0, 0);
            let stats = ring
                .drain(|raw| {
                    match raw.parse::<NativeEndian>(attr)? {
                        Record::Sample(s) => {
                            assert_eq!(
                                (s.id.id, s.id.pid, s.id.tid),
                                (Some(id), Some(pid), Some(tid))
                            );
                            samples += 1;
                        }
                        Record::Lost(l) => {
                            assert_eq!(l.id, id);
                            lost += l.lost;
                        }
                        other => panic!("unexpected record {other:?}"),
                    }
                    Ok::<(), ParseError>(())
                })
                .unwrap();
            (samples, lost, stats)
        }

        #[test]
        fn context_switch_samples_match_the_counter() {
            if !is_root() {
                return;
            }
            let attr = context_switch_attr();
            let fd = abi::open_event(&attr, Target::Task { pid: 0, cpu: None }, None).unwrap();
            let mut ring = RingBuffer::new(fd.as_fd(), 8).unwrap();
            assert_eq!(ring.data_size(), 8 * abi::page_size().unwrap() as u64);
            switch_out(&fd, 20, Duration::from_millis(1));
            let id = abi::event_id(fd.as_fd()).unwrap();
            let pending = ring.pending();
            let (samples, lost, stats) = count_samples(&mut ring, &attr, id);
            // With a period of 1 every switch the counter counts is a sample.
            assert_eq!((samples, lost), (read_count(&fd), 0));
            assert!(samples >= 20, "{samples} switches after 20 sleeps");
            assert_eq!(
                stats,
                DrainStats {
                    records: samples,
                    bytes: samples * CONTEXT_SWITCH_SAMPLE_SIZE
                }
            );
            assert_eq!(pending, stats.bytes);
            assert_eq!(ring.pending(), 0);
            assert_eq!(
                ring.drain(|_| Ok::<(), ParseError>(())).unwrap(),
                DrainStats::default()
            );
        }

        #[test]
        fn a_panicking_callback_still_gives_back_what_it_consumed() {
            if !is_root() {
                return;
            }
            let attr = context_switch_attr();
            let fd = abi::open_event(&attr, Target::Task { pid: 0, cpu: None }, None).unwrap();
            let mut ring = RingBuffer::new(fd.as_fd(), 4).unwrap();
            switch_out(&fd, 5, Duration::from_millis(1));
            let before = ring.pending();
            assert!(before >= 5 * CONTEXT_SWITCH_SAMPLE_SIZE, "{before} bytes");
            let mut handed = 0;
            let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                ring.drain(|_| {
                    handed += 1;
                    if handed == 2 {
                        panic!("callback panics on the second record");
                    }
                    Ok::<(), ParseError>(())
                })
            }));
            assert!(panicked.is_err());
            // The record it panicked on is consumed too.
            assert_eq!(ring.pending(), before - 2 * CONTEXT_SWITCH_SAMPLE_SIZE);
            let rest = ring.drain(|_| Ok::<(), ParseError>(())).unwrap();
            assert_eq!(rest.records, before / CONTEXT_SWITCH_SAMPLE_SIZE - 2);
        }

        #[test]
        fn a_full_one_page_ring_reports_lost_records() {
            if !is_root() {
                return;
            }
            let attr = context_switch_attr();
            let fd = abi::open_event(&attr, Target::Task { pid: 0, cpu: None }, None).unwrap();
            let mut ring = RingBuffer::new(fd.as_fd(), 1).unwrap();
            // The kernel keeps one byte free (CIRC_SPACE in ring_buffer_has_space).
            let capacity = (ring.data_size() - 1) / CONTEXT_SWITCH_SAMPLE_SIZE;
            let id = abi::event_id(fd.as_fd()).unwrap();
            // Far more switches than the page holds; none drained meanwhile.
            // (A 1 us sleep does not always switch: count, do not assume.)
            switch_out(&fd, 4 * capacity as u32, Duration::from_micros(1));
            let switches = read_count(&fd);
            assert!(switches > capacity, "{switches} switches");
            let (first, lost_first, _) = count_samples(&mut ring, &attr, id);
            assert_eq!(
                (first, lost_first),
                (capacity, 0),
                "a full page, then nothing"
            );
            // The kernel reports the loss once it has room again.
            switch_out(&fd, 5, Duration::from_millis(1));
            let (second, lost, _) = count_samples(&mut ring, &attr, id);
            assert_eq!(lost, switches - capacity);
            assert_eq!(first + second + lost, read_count(&fd));
        }

        #[test]
        fn set_output_merges_a_cpus_events_into_one_ring() {
            if !is_root() {
                return;
            }
            let path = "/sys/kernel/tracing/events/sched/sched_switch/id";
            let Some(tp_id) = crate::testing::prerequisite(
                std::fs::read_to_string(path)
                    .map_err(|e| format!("needs tracefs mounted: {path}: {e}")),
            ) else {
                return;
            };
            let cpu = abi::online_cpus().unwrap()[0];
            let pinned = crate::testing::pin_to_cpu(cpu);

            let format = SampleFormat::IDENTIFIER
                | SampleFormat::TID
                | SampleFormat::TIME
                | SampleFormat::CPU;
            let switch_tp = EventAttr {
                kind: kind::TRACEPOINT,
                config: tp_id.trim().parse().unwrap(),
                sample_type: format | SampleFormat::RAW,
                ..context_switch_attr()
            };
            // Side-band only: PERF_RECORD_SWITCH_CPU_WIDE for every switch.
            // (Not a software context-switches sampler: the kernel shares
            // one perf_sample_data among all software events that fire
            // together, so a concurrent test's event could lend it its id.)
            let switch_sw = EventAttr {
                kind: kind::SOFTWARE,
                config: sw::DUMMY,
                sample_type: format,
                flags: flags::DISABLED | flags::SAMPLE_ID_ALL | flags::CONTEXT_SWITCH,
                ..Default::default()
            };
            let tp = abi::open_event(&switch_tp, Target::Cpu(cpu), None).unwrap();
            let swe = abi::open_event(&switch_sw, Target::Cpu(cpu), None).unwrap();
            let mut ring = RingBuffer::new(tp.as_fd(), 64).unwrap();
            abi::set_output(swe.as_fd(), tp.as_fd()).unwrap();
            let ids = [
                abi::event_id(tp.as_fd()).unwrap(),
                abi::event_id(swe.as_fd()).unwrap(),
            ];
            let set = AttrSet::new(vec![
                EventDesc {
                    attr: switch_tp.clone(),
                    ids: vec![ids[0]],
                    name: "sched:sched_switch".into(),
                },
                EventDesc {
                    attr: switch_sw.clone(),
                    ids: vec![ids[1]],
                    name: "dummy:switches".into(),
                },
            ])
            .unwrap();

            abi::enable(tp.as_fd()).unwrap();
            abi::enable(swe.as_fd()).unwrap();
            for _ in 0..10 {
                std::thread::sleep(Duration::from_millis(1));
            }
            abi::disable(tp.as_fd()).unwrap();
            abi::disable(swe.as_fd()).unwrap();
            drop(pinned);

            let mut samples: HashMap<usize, u64> = HashMap::new();
            ring.drain(|raw| {
                eprintln!(
                    "ids {ids:?} raw {:?} {:?}",
                    raw.header,
                    raw.data.range(0, 24)
                );
                let event = set.index_of::<NativeEndian>(&raw)?;
                match raw.parse::<NativeEndian>(&set.events()[event].attr)? {
                    Record::Sample(s) => {
                        assert_eq!((event, s.id.cpu), (0, Some(cpu)));
                        assert!(s.raw.is_some());
                        *samples.entry(event).or_default() += 1;
                    }
                    Record::Switch(s) => {
                        assert_eq!((event, s.sample_id.cpu), (1, Some(cpu)));
                        assert!(
                            s.next_prev.is_some(),
                            "a CPU-wide switch names the other task"
                        );
                        *samples.entry(event).or_default() += 1;
                    }
                    other => panic!("unexpected record {other:?}"),
                }
                Ok::<(), ParseError>(())
            })
            .unwrap();
            assert_eq!(
                samples.get(&0).copied().unwrap_or(0),
                read_count(&tp),
                "sched_switch"
            );
            // This thread's 10 sleeps switch it out and in at least.
            assert!(samples[&0] >= 10 && samples[&1] >= 20, "{samples:?}");
        }
    }
}
