//! The perf record model: a cheap raw record, parsed on demand into [`Record`].
//!
//! A [`RawRecord`] is a header plus the bytes behind it, which may be split in
//! two where the record wraps the end of a ring buffer. [`RawRecord::parse`]
//! turns it into a [`Record`], one struct per record type, with
//! [`Record::Unknown`] for types this crate does not decode, so that unknown
//! records still flow through a recording untouched.
//!
//! Byte order is chosen once, at the file boundary: everything here is generic
//! over [`ByteOrder`], and the ring buffer is always native.

use std::borrow::Cow;
use std::fmt;

use byteorder::ByteOrder;
use perf_event_open_sys::bindings as sys;

use crate::attr::{AttrSet, EventAttr, SampleFormat, SampleLayout};
use crate::error::ParseError;
pub use crate::record_type::RecordType;

/// `struct perf_event_header`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// What the record is.
    pub kind: RecordType,
    /// PERF_RECORD_MISC_* bits.
    pub misc: u16,
    /// Size of the whole record, header included, in bytes.
    pub size: u16,
}

impl RecordHeader {
    /// Size of `struct perf_event_header` in bytes.
    pub const SIZE: usize = 8;

    /// Decodes a header from its 8 bytes.
    pub fn from_bytes<O: ByteOrder>(bytes: &[u8; 8]) -> Self {
        Self {
            kind: RecordType(O::read_u32(&bytes[0..4])),
            misc: O::read_u16(&bytes[4..6]),
            size: O::read_u16(&bytes[6..8]),
        }
    }

    /// Encodes the header in native byte order.
    pub fn to_ne_bytes(&self) -> [u8; 8] {
        let mut out = [0; 8];
        out[0..4].copy_from_slice(&self.kind.0.to_ne_bytes());
        out[4..6].copy_from_slice(&self.misc.to_ne_bytes());
        out[6..8].copy_from_slice(&self.size.to_ne_bytes());
        out
    }
}

/// PERF_RECORD_MISC_SWITCH_OUT: the switch record is for the task leaving.
pub const MISC_SWITCH_OUT: u16 = sys::PERF_RECORD_MISC_SWITCH_OUT as u16;
/// PERF_RECORD_MISC_SWITCH_OUT_PREEMPT: it left because it was preempted.
pub const MISC_SWITCH_OUT_PREEMPT: u16 = sys::PERF_RECORD_MISC_SWITCH_OUT_PREEMPT as u16;
/// PERF_RECORD_MISC_COMM_EXEC: the COMM record comes from an exec.
pub const MISC_COMM_EXEC: u16 = sys::PERF_RECORD_MISC_COMM_EXEC as u16;
/// PERF_RECORD_MISC_CPUMODE_MASK
pub const MISC_CPUMODE_MASK: u16 = sys::PERF_RECORD_MISC_CPUMODE_MASK as u16;
/// PERF_RECORD_MISC_KERNEL: a cpumode (of a sample, or of an MMAP
/// record: a kernel or module mapping).
pub const MISC_KERNEL: u16 = sys::PERF_RECORD_MISC_KERNEL as u16;
/// PERF_RECORD_MISC_USER
pub const MISC_USER: u16 = sys::PERF_RECORD_MISC_USER as u16;
/// PERF_RECORD_MISC_MMAP_BUILD_ID: an MMAP2 record carries the mapped
/// file's build-id in place of its device and inode (Linux 5.12,
/// `perf record --buildid-mmap`).
pub const MISC_MMAP_BUILD_ID: u16 = sys::PERF_RECORD_MISC_MMAP_BUILD_ID as u16;

/// The bytes of a record after its header: one slice, or two where the
/// record wraps the end of a ring buffer.
#[derive(Clone, Copy)]
pub enum RawData<'a> {
    /// Contiguous bytes.
    Single(&'a [u8]),
    /// The first part runs to the end of the ring, the second starts at its
    /// beginning.
    Split(&'a [u8], &'a [u8]),
}

impl<'a> RawData<'a> {
    /// Total length in bytes.
    pub fn len(&self) -> usize {
        match self {
            Self::Single(a) => a.len(),
            Self::Split(a, b) => a.len() + b.len(),
        }
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes from `start` to `end`, borrowed when they are contiguous.
    ///
    /// Returns `None` when the range runs past the end.
    pub fn range(&self, start: usize, end: usize) -> Option<Cow<'a, [u8]>> {
        if start > end || end > self.len() {
            return None;
        }
        Some(match *self {
            Self::Single(a) => Cow::Borrowed(&a[start..end]),
            Self::Split(a, b) => {
                if end <= a.len() {
                    Cow::Borrowed(&a[start..end])
                } else if start >= a.len() {
                    Cow::Borrowed(&b[start - a.len()..end - a.len()])
                } else {
                    let mut v = Vec::with_capacity(end - start);
                    v.extend_from_slice(&a[start..]);
                    v.extend_from_slice(&b[..end - a.len()]);
                    Cow::Owned(v)
                }
            }
        })
    }

    /// Copies the bytes into `out`, which is cleared first.
    pub fn copy_to(&self, out: &mut Vec<u8>) {
        out.clear();
        self.append_to(out);
    }

    /// Appends the bytes to `out`.
    pub fn append_to(&self, out: &mut Vec<u8>) {
        match self {
            Self::Single(a) => out.extend_from_slice(a),
            Self::Split(a, b) => {
                out.extend_from_slice(a);
                out.extend_from_slice(b);
            }
        }
    }

    /// The bytes as one slice, copied only when the record is split.
    pub fn as_slice(&self) -> Cow<'a, [u8]> {
        match *self {
            Self::Single(a) => Cow::Borrowed(a),
            Self::Split(..) => {
                let mut v = Vec::with_capacity(self.len());
                self.copy_to(&mut v);
                Cow::Owned(v)
            }
        }
    }
}

impl fmt::Debug for RawData<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Single(a) => write!(f, "Single({} bytes)", a.len()),
            Self::Split(a, b) => write!(f, "Split({} + {} bytes)", a.len(), b.len()),
        }
    }
}

/// A record as it was read: its header and its undecoded body.
#[derive(Debug, Clone, Copy)]
pub struct RawRecord<'a> {
    /// The record's header.
    pub header: RecordHeader,
    /// The bytes after the header (`header.size - 8` of them).
    pub data: RawData<'a>,
}

/// A cursor over [`RawData`] that names the field it failed to read.
struct Cursor<'a, 'd, O> {
    data: &'d RawData<'a>,
    pos: usize,
    kind: RecordType,
    _order: std::marker::PhantomData<O>,
}

impl<'a, 'd, O: ByteOrder> Cursor<'a, 'd, O> {
    fn new(data: &'d RawData<'a>, kind: RecordType) -> Self {
        Self {
            data,
            pos: 0,
            kind,
            _order: std::marker::PhantomData,
        }
    }

    // Always inlined, as the fixed-size reads below: as calls they were a
    // tenth of a report's time on a tracepoint recording.
    #[inline(always)]
    fn bytes(&mut self, len: usize, field: &'static str) -> Result<Cow<'a, [u8]>, ParseError> {
        // The common contiguous case, without building an error first.
        if let RawData::Single(a) = *self.data {
            if let Some(b) = self
                .pos
                .checked_add(len)
                .and_then(|end| a.get(self.pos..end))
            {
                self.pos += len;
                return Ok(Cow::Borrowed(b));
            }
        }
        let end = self
            .pos
            .checked_add(len)
            .ok_or_else(|| self.short(field, len))?;
        let out = self
            .data
            .range(self.pos, end)
            .ok_or_else(|| self.short(field, len))?;
        self.pos = end;
        Ok(out)
    }

    #[cold]
    fn short(&self, field: &'static str, wanted: usize) -> ParseError {
        ParseError::Truncated {
            record: self.kind,
            field,
            offset: self.pos,
            wanted,
            available: self.data.len().saturating_sub(self.pos),
        }
    }

    /// A fixed-size field, read without building a `Cow` on the common
    /// contiguous path.
    #[inline(always)]
    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], ParseError> {
        if let RawData::Single(a) = self.data {
            if let Some(b) = self.pos.checked_add(N).and_then(|end| a.get(self.pos..end)) {
                self.pos += N;
                let mut out = [0; N];
                out.copy_from_slice(b);
                return Ok(out);
            }
        }
        let b = self.bytes(N, field)?;
        let mut out = [0; N];
        out.copy_from_slice(&b);
        Ok(out)
    }

    #[inline(always)]
    fn u64(&mut self, field: &'static str) -> Result<u64, ParseError> {
        Ok(O::read_u64(&self.array::<8>(field)?))
    }

    #[inline(always)]
    fn u32(&mut self, field: &'static str) -> Result<u32, ParseError> {
        Ok(O::read_u32(&self.array::<4>(field)?))
    }

    #[inline(always)]
    fn pid_tid(&mut self, field: &'static str) -> Result<(i32, i32), ParseError> {
        let b = self.array::<8>(field)?;
        Ok((O::read_i32(&b[0..4]), O::read_i32(&b[4..8])))
    }

    /// A NUL-terminated string padded to 8 bytes, as the kernel writes comm
    /// and path fields; it runs at most to `end`.
    fn padded_string(&mut self, end: usize, field: &'static str) -> Result<String, ParseError> {
        if end < self.pos {
            return Err(self.short(field, 1));
        }
        let b = self.bytes(end - self.pos, field)?;
        let nul = b.iter().position(|&c| c == 0).ok_or(ParseError::Invalid {
            record: self.kind,
            field,
            reason: "string is not NUL-terminated".into(),
        })?;
        Ok(String::from_utf8_lossy(&b[..nul]).into_owned())
    }

    fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }
}

/// The `sample_id` fields that follow non-sample records when the event was
/// opened with `sample_id_all`, and that every sample carries too.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SampleId {
    /// PERF_SAMPLE_TID: process id.
    pub pid: Option<i32>,
    /// PERF_SAMPLE_TID: thread id.
    pub tid: Option<i32>,
    /// PERF_SAMPLE_TIME, in the event's clock (ns).
    pub time: Option<u64>,
    /// PERF_SAMPLE_ID or PERF_SAMPLE_IDENTIFIER.
    pub id: Option<u64>,
    /// PERF_SAMPLE_STREAM_ID
    pub stream_id: Option<u64>,
    /// PERF_SAMPLE_CPU
    pub cpu: Option<u32>,
}

impl SampleId {
    /// Parses the trailing `sample_id` of a non-sample record.
    ///
    /// ```c
    /// struct sample_id {
    ///     { u32 pid, tid; }   /* if PERF_SAMPLE_TID set */
    ///     { u64 time;     }   /* if PERF_SAMPLE_TIME set */
    ///     { u64 id;       }   /* if PERF_SAMPLE_ID set */
    ///     { u64 stream_id;}   /* if PERF_SAMPLE_STREAM_ID set */
    ///     { u32 cpu, res; }   /* if PERF_SAMPLE_CPU set */
    ///     { u64 id;       }   /* if PERF_SAMPLE_IDENTIFIER set */
    /// };
    /// ```
    fn parse_trailer<O: ByteOrder>(
        c: &mut Cursor<'_, '_, O>,
        format: SampleFormat,
    ) -> Result<Self, ParseError> {
        let mut s = Self::default();
        if format.contains(SampleFormat::TID) {
            let (pid, tid) = c.pid_tid("sample_id.pid/tid")?;
            s.pid = Some(pid);
            s.tid = Some(tid);
        }
        if format.contains(SampleFormat::TIME) {
            s.time = Some(c.u64("sample_id.time")?);
        }
        if format.contains(SampleFormat::ID) {
            s.id = Some(c.u64("sample_id.id")?);
        }
        if format.contains(SampleFormat::STREAM_ID) {
            s.stream_id = Some(c.u64("sample_id.stream_id")?);
        }
        if format.contains(SampleFormat::CPU) {
            s.cpu = Some(c.u32("sample_id.cpu")?);
            c.u32("sample_id.res")?;
        }
        if format.contains(SampleFormat::IDENTIFIER) {
            s.id = Some(c.u64("sample_id.identifier")?);
        }
        Ok(s)
    }

    /// Size in bytes of the trailer for `format`.
    pub fn trailer_size(format: SampleFormat) -> usize {
        format.sample_id_size()
    }
}

/// PERF_RECORD_SAMPLE, decoded as far as perfns needs; the fields perfns does
/// not use (branch stacks, interrupt registers) are skipped over exactly, or
/// end the decoding where their size needs more than the attr.
///
/// ```c
/// struct {
///     struct perf_event_header header;
///     { u64 id;           } && PERF_SAMPLE_IDENTIFIER
///     { u64 ip;           } && PERF_SAMPLE_IP
///     { u32 pid, tid;     } && PERF_SAMPLE_TID
///     { u64 time;         } && PERF_SAMPLE_TIME
///     { u64 addr;         } && PERF_SAMPLE_ADDR
///     { u64 id;           } && PERF_SAMPLE_ID
///     { u64 stream_id;    } && PERF_SAMPLE_STREAM_ID
///     { u32 cpu, res;     } && PERF_SAMPLE_CPU
///     { u64 period;       } && PERF_SAMPLE_PERIOD
///     { struct read_format values; } && PERF_SAMPLE_READ
///     { u64 nr, u64 ips[nr]; } && PERF_SAMPLE_CALLCHAIN
///     { u32 size; char data[size]; } && PERF_SAMPLE_RAW
///     { u64 nr; ... } && PERF_SAMPLE_BRANCH_STACK
///     { u64 abi; u64 regs[weight(mask)]; } && PERF_SAMPLE_REGS_USER
///     { u64 size; char data[size]; u64 dyn_size; } && PERF_SAMPLE_STACK_USER
///     { union perf_sample_weight weight; } && PERF_SAMPLE_WEIGHT(_STRUCT)
///     { u64 data_src; } && PERF_SAMPLE_DATA_SRC
///     { u64 transaction; } && PERF_SAMPLE_TRANSACTION
///     { u64 abi; u64 regs[weight(mask)]; } && PERF_SAMPLE_REGS_INTR
///     { u64 phys_addr; } && PERF_SAMPLE_PHYS_ADDR
///     { u64 cgroup; } && PERF_SAMPLE_CGROUP
///     ...
/// };
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample<'a> {
    /// pid, tid, time, id, stream_id and cpu.
    pub id: SampleId,
    /// PERF_SAMPLE_IP
    pub ip: Option<u64>,
    /// PERF_SAMPLE_ADDR
    pub addr: Option<u64>,
    /// PERF_SAMPLE_PERIOD
    pub period: Option<u64>,
    /// PERF_SAMPLE_CALLCHAIN, borrowed from the record: most readers
    /// (the report) never look at it, and a copy per sample was a third
    /// of reading a `perf record -g` file.
    pub callchain: Option<Callchain<'a>>,
    /// PERF_SAMPLE_RAW: for a tracepoint, its payload, decoded with
    /// [`crate::tracepoint::TracepointFormat`].
    pub raw: Option<Cow<'a, [u8]>>,
    /// PERF_SAMPLE_REGS_USER: the user registers at the sample (for
    /// `--call-graph dwarf`'s unwinding). `None` also after a branch
    /// stack, which perfns does not decode.
    pub regs_user: Option<UserRegs<'a>>,
    /// PERF_SAMPLE_STACK_USER: the copy of the user stack from the
    /// sampled SP, its `dyn_size` valid bytes only. `None` as
    /// `regs_user` is.
    pub stack_user: Option<Cow<'a, [u8]>>,
    /// PERF_SAMPLE_CGROUP: the task's cgroup id. `None` also when the
    /// sample carries a branch stack or interrupt registers, which sit
    /// before it and which perfns does not decode.
    pub cgroup: Option<u64>,
    /// PERF_RECORD_MISC_* bits from the header (cpu mode).
    pub misc: u16,
}

/// A sample's call chain as stored: `nr` instruction pointers of 8 bytes
/// in the recording's byte order (context markers such as
/// PERF_CONTEXT_KERNEL among them, as the kernel writes them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callchain<'a> {
    ips: Cow<'a, [u8]>,
    big_endian: bool,
}

/// A sample's user registers as stored (`{ u64 abi; u64 regs[weight(mask)]; }`):
/// one u64 per bit of the attr's `sample_regs_user`, in ascending bit order
/// (the arch's `PERF_REG_*` numbers), in the recording's byte order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRegs<'a> {
    /// PERF_SAMPLE_REGS_ABI_*: [`UserRegs::ABI_NONE`] when the task had no
    /// user registers to give (a kernel thread), then no register follows.
    pub abi: u64,
    mask: u64,
    regs: Cow<'a, [u8]>,
    big_endian: bool,
}

impl UserRegs<'_> {
    /// PERF_SAMPLE_REGS_ABI_NONE
    pub const ABI_NONE: u64 = 0;
    /// PERF_SAMPLE_REGS_ABI_32
    pub const ABI_32: u64 = 1;
    /// PERF_SAMPLE_REGS_ABI_64
    pub const ABI_64: u64 = 2;

    /// Registers as a sample of mask `mask` would carry them: `values` in
    /// ascending bit order (for tests and synthetic samples).
    pub fn from_values(abi: u64, mask: u64, values: &[u64]) -> UserRegs<'static> {
        UserRegs {
            abi,
            mask,
            regs: Cow::Owned(values.iter().flat_map(|v| v.to_le_bytes()).collect()),
            big_endian: false,
        }
    }

    /// Register `reg` (its `PERF_REG_*` number), when the mask has it.
    pub fn get(&self, reg: u32) -> Option<u64> {
        let bit = 1u64.checked_shl(reg)?;
        if self.mask & bit == 0 {
            return None;
        }
        let i = (self.mask & (bit - 1)).count_ones() as usize * 8;
        let b: [u8; 8] = self.regs.get(i..i + 8)?.try_into().ok()?;
        Some(if self.big_endian {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    }
}

/// The markers a call chain's entries switch context with
/// (`enum perf_callchain_context`): entries after [`context::KERNEL`] are
/// kernel addresses, after [`context::USER`] user ones. Every value from
/// [`context::MAX`] up is a marker, never an address.
pub mod context {
    use super::sys;
    /// PERF_CONTEXT_KERNEL
    pub const KERNEL: u64 = sys::PERF_CONTEXT_KERNEL;
    /// PERF_CONTEXT_USER
    pub const USER: u64 = sys::PERF_CONTEXT_USER;
    /// PERF_CONTEXT_MAX: the lowest marker (HV and the guest's are the
    /// others).
    pub const MAX: u64 = sys::PERF_CONTEXT_MAX;
}

impl Callchain<'_> {
    /// How many entries it has.
    pub fn len(&self) -> usize {
        self.ips.len() / 8
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.ips.is_empty()
    }

    /// A chain of `ips` (for tests and synthetic samples).
    pub fn from_ips(ips: &[u64]) -> Callchain<'static> {
        Callchain {
            ips: Cow::Owned(ips.iter().flat_map(|v| v.to_le_bytes()).collect()),
            big_endian: false,
        }
    }

    /// Its entries, innermost first.
    pub fn ips(&self) -> impl Iterator<Item = u64> + '_ {
        self.ips.chunks_exact(8).map(|b| {
            let b: [u8; 8] = std::array::from_fn(|i| b[i]);
            if self.big_endian {
                u64::from_be_bytes(b)
            } else {
                u64::from_le_bytes(b)
            }
        })
    }
}

impl<'a> Sample<'a> {
    fn parse<O: ByteOrder>(
        raw: &RawRecord<'a>,
        attr: &EventAttr,
        layout: &SampleLayout,
    ) -> Result<Self, ParseError> {
        let format = attr.sample_type;
        let mut c = Cursor::<O>::new(&raw.data, RecordType::SAMPLE);
        // Fields in locals, the Sample built at the end: built first and
        // filled in, the whole struct was copied out on return.
        let mut id = SampleId::default();
        let (mut ip, mut addr, mut period) = (None, None, None);
        let (mut callchain, mut payload, mut cgroup) = (None, None, None);
        let (mut regs_user, mut stack_user) = (None, None);
        let big_endian = O::read_u16(&[0, 1]) == 1;
        let fixed = &layout.sample_fields;
        match raw.data {
            // The common case: every fixed field is there, each read at its
            // place in the event's layout.
            RawData::Single(body) if body.len() >= fixed.end => {
                let u64_at = |off: usize| O::read_u64(&body[off..off + 8]);
                id.id = fixed.id.or(layout.sample_id).map(u64_at);
                ip = fixed.ip.map(u64_at);
                if let Some(off) = fixed.tid {
                    id.pid = Some(O::read_i32(&body[off..off + 4]));
                    id.tid = Some(O::read_i32(&body[off + 4..off + 8]));
                }
                id.time = layout.sample_time.map(u64_at);
                addr = fixed.addr.map(u64_at);
                id.stream_id = fixed.stream_id.map(u64_at);
                id.cpu = fixed.cpu.map(|off| O::read_u32(&body[off..off + 4]));
                period = fixed.period.map(u64_at);
                c.pos = fixed.end;
            }
            // Split at the ring's end, or too short: field by field, the
            // error naming the first that is not there.
            _ => {
                if format.contains(SampleFormat::IDENTIFIER) {
                    id.id = Some(c.u64("identifier")?);
                }
                if format.contains(SampleFormat::IP) {
                    ip = Some(c.u64("ip")?);
                }
                if format.contains(SampleFormat::TID) {
                    let (pid, tid) = c.pid_tid("pid/tid")?;
                    id.pid = Some(pid);
                    id.tid = Some(tid);
                }
                if format.contains(SampleFormat::TIME) {
                    id.time = Some(c.u64("time")?);
                }
                if format.contains(SampleFormat::ADDR) {
                    addr = Some(c.u64("addr")?);
                }
                if format.contains(SampleFormat::ID) {
                    id.id = Some(c.u64("id")?);
                }
                if format.contains(SampleFormat::STREAM_ID) {
                    id.stream_id = Some(c.u64("stream_id")?);
                }
                if format.contains(SampleFormat::CPU) {
                    id.cpu = Some(c.u32("cpu")?);
                    c.u32("res")?;
                }
                if format.contains(SampleFormat::PERIOD) {
                    period = Some(c.u64("period")?);
                }
            }
        }
        if format.contains(SampleFormat::READ) {
            // A group read (perf record -e '{a,b}:S') counts its values.
            let values = if attr.reads_group() {
                c.u64("read.nr")?
            } else {
                1
            };
            let len = attr
                .read_format_size(values)
                .ok_or_else(|| ParseError::Invalid {
                    record: RecordType::SAMPLE,
                    field: "read.nr",
                    reason: format!("{values} values do not fit in a record"),
                })?;
            // The count, if any, is read already.
            let nr = if attr.reads_group() { 8 } else { 0 };
            c.bytes(len - nr, "read")?;
        }
        if format.contains(SampleFormat::CALLCHAIN) {
            let nr = c.u64("callchain.nr")?;
            let nr = usize::try_from(nr)
                .ok()
                .filter(|&n| n <= c.remaining() / 8)
                .ok_or_else(|| ParseError::Invalid {
                    record: RecordType::SAMPLE,
                    field: "callchain.nr",
                    reason: format!("{nr} entries do not fit in the record"),
                })?;
            callchain = Some(Callchain {
                ips: c.bytes(nr * 8, "callchain.ips")?,
                big_endian,
            });
        }
        if format.contains(SampleFormat::RAW) {
            let size = c.u32("raw.size")? as usize;
            payload = Some(c.bytes(size, "raw.data")?);
        }
        // A branch stack's size needs the attr's branch_sample_type (its
        // hw_idx), which perfns does not decode: the fields after it stay
        // unread.
        let decoded = !format.contains(SampleFormat::BRANCH_STACK);
        if decoded && format.contains(SampleFormat::REGS_USER) {
            let abi = c.u64("regs_user.abi")?;
            let regs = if abi == UserRegs::ABI_NONE {
                Cow::Borrowed(&[][..])
            } else {
                let len = attr.sample_regs_user.count_ones() as usize * 8;
                c.bytes(len, "regs_user.regs")?
            };
            regs_user = Some(UserRegs {
                abi,
                mask: attr.sample_regs_user,
                regs,
                big_endian,
            });
        }
        if decoded && format.contains(SampleFormat::STACK_USER) {
            // { u64 size; char data[size]; u64 dyn_size; }, dyn_size only
            // when size is not 0 (a task without user stack copies none).
            let size = c.u64("stack_user.size")?;
            let size = usize::try_from(size)
                .ok()
                .filter(|&n| n <= c.remaining())
                .ok_or_else(|| ParseError::Invalid {
                    record: RecordType::SAMPLE,
                    field: "stack_user.size",
                    reason: format!("{size} bytes do not fit in the record"),
                })?;
            if size == 0 {
                stack_user = Some(Cow::Borrowed(&[][..]));
            } else {
                let data = c.bytes(size, "stack_user.data")?;
                let dyn_size = c.u64("stack_user.dyn_size")?;
                let valid = usize::try_from(dyn_size)
                    .ok()
                    .filter(|&n| n <= size)
                    .ok_or_else(|| ParseError::Invalid {
                        record: RecordType::SAMPLE,
                        field: "stack_user.dyn_size",
                        reason: format!("{dyn_size} bytes, more than the {size} copied"),
                    })?;
                stack_user = Some(match data {
                    Cow::Borrowed(b) => Cow::Borrowed(&b[..valid]),
                    Cow::Owned(mut b) => {
                        b.truncate(valid);
                        Cow::Owned(b)
                    }
                });
            }
        }
        if format.contains(SampleFormat::CGROUP)
            && decoded
            && !format.contains(SampleFormat::REGS_INTR)
        {
            for (bit, field) in [
                (SampleFormat::WEIGHT, "weight"),
                (SampleFormat::WEIGHT_STRUCT, "weight"),
                (SampleFormat::DATA_SRC, "data_src"),
                (SampleFormat::TRANSACTION, "transaction"),
                (SampleFormat::PHYS_ADDR, "phys_addr"),
            ] {
                if format.contains(bit) {
                    c.u64(field)?;
                }
            }
            cgroup = Some(c.u64("cgroup")?);
        }
        Ok(Sample {
            id,
            ip,
            addr,
            period,
            callchain,
            raw: payload,
            regs_user,
            stack_user,
            cgroup,
            misc: raw.header.misc,
        })
    }
}

/// PERF_RECORD_COMM: a task's name changed (by exec when `exec` is set).
///
/// ```c
/// struct { struct perf_event_header header; u32 pid, tid; char comm[]; struct sample_id sample_id; };
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comm {
    /// Process id.
    pub pid: i32,
    /// Thread id.
    pub tid: i32,
    /// The new name.
    pub comm: String,
    /// Whether the name changed because of an exec.
    pub exec: bool,
    /// The trailing sample_id.
    pub sample_id: SampleId,
}

/// PERF_RECORD_FORK and PERF_RECORD_EXIT.
///
/// ```c
/// struct { struct perf_event_header header; u32 pid, ppid; u32 tid, ptid; u64 time; struct sample_id sample_id; };
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskEvent {
    /// Process id of the new (or exiting) task.
    pub pid: i32,
    /// Parent process id.
    pub ppid: i32,
    /// Thread id of the new (or exiting) task.
    pub tid: i32,
    /// Parent thread id.
    pub ptid: i32,
    /// When it happened.
    pub time: u64,
    /// The trailing sample_id.
    pub sample_id: SampleId,
}

/// One namespace in a namespaces record: `struct perf_ns_link_info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct NamespaceLink {
    /// Device of nsfs.
    pub dev: u64,
    /// Inode number: the namespace's identity, as in `/proc/PID/ns/*`.
    pub ino: u64,
}

/// Index of each namespace in PERF_RECORD_NAMESPACES
/// (`enum { NET_NS_INDEX, UTS_NS_INDEX, ... }` in the uapi header).
pub mod ns_index {
    /// net
    pub const NET: usize = super::sys::NET_NS_INDEX as usize;
    /// uts
    pub const UTS: usize = super::sys::UTS_NS_INDEX as usize;
    /// ipc
    pub const IPC: usize = super::sys::IPC_NS_INDEX as usize;
    /// pid
    pub const PID: usize = super::sys::PID_NS_INDEX as usize;
    /// user
    pub const USER: usize = super::sys::USER_NS_INDEX as usize;
    /// mnt
    pub const MNT: usize = super::sys::MNT_NS_INDEX as usize;
    /// cgroup
    pub const CGROUP: usize = super::sys::CGROUP_NS_INDEX as usize;
    /// The names of the indices, as `/proc/PID/ns` names them.
    pub const NAMES: [&str; 7] = ["net", "uts", "ipc", "pid", "user", "mnt", "cgroup"];
}

/// PERF_RECORD_NAMESPACES, with any number of namespaces.
///
/// ```c
/// struct { struct perf_event_header header; u32 pid, tid; u64 nr_namespaces;
///          { u64 dev, inode; } [nr_namespaces]; struct sample_id sample_id; };
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespaces {
    /// Process id.
    pub pid: i32,
    /// Thread id.
    pub tid: i32,
    /// The namespaces, indexed as in [`ns_index`].
    pub namespaces: Vec<NamespaceLink>,
    /// The trailing sample_id.
    pub sample_id: SampleId,
}

impl Namespaces {
    /// The pid namespace, if the record has one.
    pub fn pid_ns(&self) -> Option<NamespaceLink> {
        self.namespaces.get(ns_index::PID).copied()
    }
}

/// PERF_RECORD_CGROUP: a cgroup's id and path, as the kernel names it.
///
/// ```c
/// struct { struct perf_event_header header; u64 id; char path[]; struct sample_id sample_id; };
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    /// Cgroup id (the inode of its directory in cgroup2).
    pub id: u64,
    /// Its path from the cgroup root.
    pub path: String,
    /// The trailing sample_id.
    pub sample_id: SampleId,
}

/// PERF_RECORD_SWITCH and PERF_RECORD_SWITCH_CPU_WIDE.
///
/// ```c
/// struct { struct perf_event_header header; struct sample_id sample_id; };                 /* SWITCH */
/// struct { struct perf_event_header header; u32 next_prev_pid, next_prev_tid;
///          struct sample_id sample_id; };                                                 /* CPU_WIDE */
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Switch {
    /// The task in sample_id is switching out (otherwise in).
    pub out: bool,
    /// It was switched out because it was preempted (still runnable).
    pub preempt: bool,
    /// For CPU-wide records: the other task (next when switching out, prev
    /// when switching in), as (pid, tid).
    pub next_prev: Option<(i32, i32)>,
    /// The trailing sample_id: the task this record is about.
    pub sample_id: SampleId,
}

/// PERF_RECORD_LOST: the kernel dropped `lost` records of event `id`
/// because the ring buffer was full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lost {
    /// The event whose records were lost.
    pub id: u64,
    /// How many.
    pub lost: u64,
    /// The trailing sample_id.
    pub sample_id: SampleId,
}

/// PERF_RECORD_LOST_SAMPLES: samples dropped before reaching the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LostSamples {
    /// How many.
    pub lost: u64,
    /// The trailing sample_id.
    pub sample_id: SampleId,
}

/// PERF_RECORD_THROTTLE and PERF_RECORD_UNTHROTTLE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    /// When.
    pub time: u64,
    /// The event.
    pub id: u64,
    /// Its stream id.
    pub stream_id: u64,
    /// The trailing sample_id.
    pub sample_id: SampleId,
}

/// PERF_RECORD_MMAP: a mapping, as kernels before MMAP2 wrote them and
/// as perf still synthesizes the kernel's and its modules' (pid -1,
/// cpumode PERF_RECORD_MISC_KERNEL, `[kernel.kallsyms]_text`).
///
/// ```c
/// struct { struct perf_event_header header; u32 pid, tid; u64 addr, len, pgoff;
///          char filename[]; struct sample_id sample_id; };
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mmap {
    /// Process id (-1: the kernel's).
    pub pid: i32,
    /// Thread id.
    pub tid: i32,
    /// Start address.
    pub addr: u64,
    /// Length.
    pub len: u64,
    /// File offset (for the kernel's: the address of its `_text`).
    pub pgoff: u64,
    /// The header's cpumode ([`MISC_CPUMODE_MASK`]): [`MISC_KERNEL`] for
    /// the kernel's and its modules' mappings.
    pub cpumode: u16,
    /// The mapped file.
    pub filename: String,
    /// The trailing sample_id.
    pub sample_id: SampleId,
}

/// PERF_RECORD_MMAP2: an executable mapping.
///
/// ```c
/// struct { struct perf_event_header header; u32 pid, tid; u64 addr, len, pgoff;
///          union { struct { u32 maj, min; u64 ino, ino_generation; };
///                  struct { u8 build_id_size, __reserved_1; u16 __reserved_2; u8 build_id[20]; }; };
///          u32 prot, flags; char filename[]; struct sample_id sample_id; };
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mmap2 {
    /// Process id.
    pub pid: i32,
    /// Thread id.
    pub tid: i32,
    /// Start address.
    pub addr: u64,
    /// Length.
    pub len: u64,
    /// File offset.
    pub pgoff: u64,
    /// What identifies the mapped file: its device and inode, or (with
    /// [`MISC_MMAP_BUILD_ID`]) its build-id.
    pub file_id: MappedFileId,
    /// PROT_* bits.
    pub prot: u32,
    /// MAP_* bits.
    pub flags: u32,
    /// The header's cpumode ([`MISC_CPUMODE_MASK`]).
    pub cpumode: u16,
    /// The mapped file.
    pub filename: String,
    /// The trailing sample_id.
    pub sample_id: SampleId,
}

/// The union in an MMAP2 record that identifies the mapped file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappedFileId {
    /// Its device (major, minor) and inode.
    Inode {
        /// Device major number.
        maj: u32,
        /// Device minor number.
        min: u32,
        /// Inode number.
        ino: u64,
        /// Inode generation.
        ino_generation: u64,
    },
    /// Its build-id, `build_id_size` bytes (at most 20).
    BuildId(Vec<u8>),
}

impl Mmap2 {
    /// The mapped file's build-id, when the record carries one.
    pub fn build_id(&self) -> Option<&[u8]> {
        match &self.file_id {
            MappedFileId::BuildId(id) => Some(id),
            MappedFileId::Inode { .. } => None,
        }
    }
}

/// Maximum depth of tracer namespaces a PERF_RECORD_TRACER_NAMESPACES record
/// may describe; mirrors MAX_TRACER_NS_LEVEL in the kernel series.
pub const MAX_TRACER_NS_LEVEL: usize = 32;

/// PERF_RECORD_TRACER_NAMESPACES, added by the perfns kernel series: the
/// namespaces of a task (as PERF_RECORD_NAMESPACES, then time and tracer),
/// its tracer-namespace ancestry from the reader's own tracer namespace
/// down to the task's (inodes, then the same namespaces' 64-bit ids), and
/// its pid at each pid namespace level from the reader's down to the
/// task's own.
///
/// ```c
/// struct { struct perf_event_header header; u32 pid, tid;
///          u64 nr_namespaces;    { u64 dev, inode; } namespaces[nr_namespaces];
///          u64 nr_tracer_levels; u64 tracer_ns[nr_tracer_levels];
///          u64 nr_pid_levels;    { u32 pid, tid; } pids[nr_pid_levels];
///          u64 tracer_ns_id[nr_tracer_levels];
///          struct sample_id sample_id; };
/// ```
///
/// The series' first version of the record (type 22, before the series
/// moved past mainline's numbers) ended after `pids`: such a record, which
/// has nothing between its pids and its sample_id, parses with no ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracerNamespaces {
    /// Process id in the reader's pid namespace.
    pub pid: i32,
    /// Thread id in the reader's pid namespace.
    pub tid: i32,
    /// The namespaces, indexed as in [`ns_index`], then time and tracer.
    pub namespaces: Vec<NamespaceLink>,
    /// Tracer namespace inodes from the reader's down to the task's.
    pub tracer_ns: Vec<u64>,
    /// The same namespaces' 64-bit ids, which the kernel never reuses as it
    /// does inodes; empty in a record of the series' first version.
    pub tracer_ns_ids: Vec<u64>,
    /// The task's (pid, tid) in each pid namespace from the reader's down
    /// to its own; empty when the reader's pid namespace does not show it.
    pub pids: Vec<(i32, i32)>,
    /// The trailing sample_id.
    pub sample_id: SampleId,
}

impl TracerNamespaces {
    /// The inode of the task's own tracer namespace (the last of its
    /// ancestry).
    pub fn own_tracer_ns(&self) -> Option<u64> {
        self.tracer_ns.last().copied()
    }
}

/// A parsed record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Record<'a> {
    /// PERF_RECORD_SAMPLE
    Sample(Sample<'a>),
    /// PERF_RECORD_COMM
    Comm(Comm),
    /// PERF_RECORD_FORK
    Fork(TaskEvent),
    /// PERF_RECORD_EXIT
    Exit(TaskEvent),
    /// PERF_RECORD_NAMESPACES
    Namespaces(Namespaces),
    /// PERF_RECORD_CGROUP
    Cgroup(Cgroup),
    /// PERF_RECORD_SWITCH and PERF_RECORD_SWITCH_CPU_WIDE
    Switch(Switch),
    /// PERF_RECORD_LOST
    Lost(Lost),
    /// PERF_RECORD_LOST_SAMPLES
    LostSamples(LostSamples),
    /// PERF_RECORD_THROTTLE
    Throttle(Throttle),
    /// PERF_RECORD_UNTHROTTLE
    Unthrottle(Throttle),
    /// PERF_RECORD_MMAP
    Mmap(Mmap),
    /// PERF_RECORD_MMAP2
    Mmap2(Mmap2),
    /// PERF_RECORD_TRACER_NAMESPACES
    TracerNamespaces(TracerNamespaces),
    /// PERF_RECORD_FINISHED_ROUND
    FinishedRound,
    /// Any other type, undecoded.
    Unknown(RecordType),
}

/// Which event of a recording wrote a record: here, above both the attrs
/// and the records, so that [`crate::attr`] needs nothing of records.
impl AttrSet {
    /// The index of the event that wrote `raw`. Records of perf's own
    /// user-space types belong to no event and give the first.
    pub fn index_of<O: ByteOrder>(&self, raw: &RawRecord<'_>) -> Result<usize, ParseError> {
        if self.events().len() <= 1 || !raw.header.kind.is_kernel() {
            return if self.events().is_empty() {
                Err(ParseError::Attr("the recording has no events".into()))
            } else {
                Ok(0)
            };
        }
        // AttrSet::new made sure every event keeps its id where the
        // first does.
        let id = self.record_id::<O>(raw, self.layout(0))?;
        // Records perf synthesizes for what existed before recording began
        // (MMAP, COMM, FORK, NAMESPACES) carry a zeroed sample_id; perf's
        // evlist__event2evsel gives them to the first event.
        if id == 0 {
            return Ok(0);
        }
        // Lazily: building the message costs an allocation per record.
        self.index_of_id(id).ok_or_else(|| ParseError::Invalid {
            record: raw.header.kind,
            field: "id",
            reason: format!("id {id} belongs to no event of the recording"),
        })
    }

    /// The attr of the event that wrote `raw`.
    pub fn attr_of<O: ByteOrder>(&self, raw: &RawRecord<'_>) -> Result<&EventAttr, ParseError> {
        Ok(&self.events()[self.index_of::<O>(raw)?].attr)
    }

    fn record_id<O: ByteOrder>(
        &self,
        raw: &RawRecord<'_>,
        layout: &SampleLayout,
    ) -> Result<u64, ParseError> {
        let kind = raw.header.kind;
        let len = raw.data.len();
        let read = |off: usize, field: &'static str| {
            let truncated = || ParseError::Truncated {
                record: kind,
                field,
                offset: off,
                wanted: 8,
                available: len.saturating_sub(off),
            };
            if let RawData::Single(body) = raw.data {
                return body
                    .get(off..off + 8)
                    .map(O::read_u64)
                    .ok_or_else(truncated);
            }
            raw.data
                .range(off, off + 8)
                .map(|b| O::read_u64(&b))
                .ok_or_else(truncated)
        };
        if kind == RecordType::SAMPLE {
            // AttrSet::new refuses several events without an id.
            return read(layout.sample_id.unwrap_or_default(), "id");
        }
        if layout.trailer == 0 {
            return Err(ParseError::Invalid {
                record: kind,
                field: "sample_id",
                reason: "several events but no sample_id_all: cannot tell whose record this is"
                    .into(),
            });
        }
        let start = len
            .checked_sub(layout.trailer)
            .ok_or(ParseError::Truncated {
                record: kind,
                field: "sample_id",
                offset: 0,
                wanted: layout.trailer,
                available: len,
            })?;
        read(
            start + layout.trailer_id.unwrap_or_default(),
            "sample_id.id",
        )
    }
}

impl SampleLayout {
    /// The time of a record of an event of this layout, from its sample
    /// fields or its sample_id trailer. Perf's own records, and records
    /// without a time, have none.
    #[inline]
    pub fn record_time<O: ByteOrder>(&self, kind: RecordType, data: &RawData<'_>) -> Option<u64> {
        let off = if kind == RecordType::SAMPLE {
            self.sample_time?
        } else if kind.is_kernel() && self.trailer > 0 {
            data.len().checked_sub(self.trailer)? + self.trailer_time?
        } else {
            return None;
        };
        match data {
            RawData::Single(body) => body.get(off..off + 8).map(O::read_u64),
            RawData::Split(..) => data.range(off, off + 8).map(|b| O::read_u64(&b)),
        }
    }
}

impl<'a> RawRecord<'a> {
    /// Decodes a PERF_RECORD_SAMPLE as [`Self::parse`] does, without the
    /// [`Record`] around it: for readers that take samples by the million.
    /// `layout` is the event's ([`crate::attr::AttrSet::layout`]).
    #[inline]
    pub fn parse_sample<O: ByteOrder>(
        &self,
        attr: &EventAttr,
        layout: &SampleLayout,
    ) -> Result<Sample<'a>, ParseError> {
        Sample::parse::<O>(self, attr, layout)
    }

    /// Decodes the record. `attr` is the attribute of the event that wrote
    /// it (for samples, the one its id names; see
    /// [`crate::attr::AttrSet::attr_of`]). A tracepoint payload borrows the
    /// record's bytes unless the record is split across the ring's end.
    pub fn parse<O: ByteOrder>(&self, attr: &EventAttr) -> Result<Record<'a>, ParseError> {
        self.parse_with::<O>(attr, &SampleLayout::of(attr))
    }

    /// [`Self::parse`] with the event's layout worked out already
    /// ([`crate::attr::AttrSet::layout`]).
    pub fn parse_with<O: ByteOrder>(
        &self,
        attr: &EventAttr,
        layout: &SampleLayout,
    ) -> Result<Record<'a>, ParseError> {
        let kind = self.header.kind;
        let format = attr.sample_type;
        // perf's own user-space records never carry a sample_id, whatever
        // the attr says.
        let id_all = attr.sample_id_all() && kind.is_kernel();
        // Where the variable part of a record ends and its sample_id begins.
        let body_end = || {
            let t = if id_all { layout.trailer } else { 0 };
            self.data.len().checked_sub(t).ok_or(ParseError::Truncated {
                record: kind,
                field: "sample_id",
                offset: 0,
                wanted: t,
                available: self.data.len(),
            })
        };
        // The sample_id is the record's last bytes, wherever its own fields
        // end, as perf reads it (perf_evsel__parse_id_sample) and as
        // AttrSet::index_of finds the id: a record with more fields than
        // this parser knows (a newer kernel's) keeps its sample_id.
        let trailer = |c: &Cursor<'_, '_, O>| -> Result<SampleId, ParseError> {
            if !id_all {
                return Ok(SampleId::default());
            }
            let start = body_end()?;
            if c.pos > start {
                return Err(ParseError::Invalid {
                    record: kind,
                    field: "sample_id",
                    reason: format!(
                        "the record's fields run to byte {}, past the start of its sample_id at byte {start}",
                        c.pos
                    ),
                });
            }
            let mut t = Cursor::<O>::new(&self.data, kind);
            t.pos = start;
            SampleId::parse_trailer(&mut t, format)
        };
        let mut c = Cursor::<O>::new(&self.data, kind);
        let record = match kind {
            RecordType::SAMPLE => Record::Sample(Sample::parse::<O>(self, attr, layout)?),
            RecordType::COMM => {
                let (pid, tid) = c.pid_tid("pid/tid")?;
                let comm = c.padded_string(body_end()?, "comm")?;
                Record::Comm(Comm {
                    pid,
                    tid,
                    comm,
                    exec: self.header.misc & MISC_COMM_EXEC != 0,
                    sample_id: trailer(&c)?,
                })
            }
            RecordType::FORK | RecordType::EXIT => {
                let (pid, ppid) = c.pid_tid("pid/ppid")?;
                let (tid, ptid) = c.pid_tid("tid/ptid")?;
                let time = c.u64("time")?;
                let t = TaskEvent {
                    pid,
                    ppid,
                    tid,
                    ptid,
                    time,
                    sample_id: trailer(&c)?,
                };
                if kind == RecordType::FORK {
                    Record::Fork(t)
                } else {
                    Record::Exit(t)
                }
            }
            RecordType::NAMESPACES => {
                let (pid, tid) = c.pid_tid("pid/tid")?;
                let namespaces = parse_ns_links(&mut c, "nr_namespaces", "link_info")?;
                Record::Namespaces(Namespaces {
                    pid,
                    tid,
                    namespaces,
                    sample_id: trailer(&c)?,
                })
            }
            RecordType::CGROUP => {
                let id = c.u64("id")?;
                let path = c.padded_string(body_end()?, "path")?;
                Record::Cgroup(Cgroup {
                    id,
                    path,
                    sample_id: trailer(&c)?,
                })
            }
            RecordType::SWITCH | RecordType::SWITCH_CPU_WIDE => {
                let next_prev = if kind == RecordType::SWITCH_CPU_WIDE {
                    Some(c.pid_tid("next_prev_pid/tid")?)
                } else {
                    None
                };
                Record::Switch(Switch {
                    out: self.header.misc & MISC_SWITCH_OUT != 0,
                    preempt: self.header.misc & MISC_SWITCH_OUT_PREEMPT != 0,
                    next_prev,
                    sample_id: trailer(&c)?,
                })
            }
            RecordType::LOST => {
                let id = c.u64("id")?;
                let lost = c.u64("lost")?;
                Record::Lost(Lost {
                    id,
                    lost,
                    sample_id: trailer(&c)?,
                })
            }
            RecordType::LOST_SAMPLES => {
                let lost = c.u64("lost")?;
                Record::LostSamples(LostSamples {
                    lost,
                    sample_id: trailer(&c)?,
                })
            }
            RecordType::THROTTLE | RecordType::UNTHROTTLE => {
                let time = c.u64("time")?;
                let id = c.u64("id")?;
                let stream_id = c.u64("stream_id")?;
                let t = Throttle {
                    time,
                    id,
                    stream_id,
                    sample_id: trailer(&c)?,
                };
                if kind == RecordType::THROTTLE {
                    Record::Throttle(t)
                } else {
                    Record::Unthrottle(t)
                }
            }
            RecordType::MMAP => {
                let (pid, tid) = c.pid_tid("pid/tid")?;
                let addr = c.u64("addr")?;
                let len = c.u64("len")?;
                let pgoff = c.u64("pgoff")?;
                let filename = c.padded_string(body_end()?, "filename")?;
                Record::Mmap(Mmap {
                    pid,
                    tid,
                    addr,
                    len,
                    pgoff,
                    cpumode: self.header.misc & MISC_CPUMODE_MASK,
                    filename,
                    sample_id: trailer(&c)?,
                })
            }
            RecordType::MMAP2 => {
                let (pid, tid) = c.pid_tid("pid/tid")?;
                let addr = c.u64("addr")?;
                let len = c.u64("len")?;
                let pgoff = c.u64("pgoff")?;
                let file_id = if self.header.misc & MISC_MMAP_BUILD_ID != 0 {
                    let size = c.bytes(4, "build_id_size")?[0];
                    let id = c.bytes(20, "build_id")?;
                    if size > 20 {
                        return Err(ParseError::Invalid {
                            record: kind,
                            field: "build_id_size",
                            reason: format!("{size} bytes, more than the 20 the record holds"),
                        });
                    }
                    MappedFileId::BuildId(id[..usize::from(size)].to_vec())
                } else {
                    MappedFileId::Inode {
                        maj: c.u32("maj")?,
                        min: c.u32("min")?,
                        ino: c.u64("ino")?,
                        ino_generation: c.u64("ino_generation")?,
                    }
                };
                let prot = c.u32("prot")?;
                let flags = c.u32("flags")?;
                let filename = c.padded_string(body_end()?, "filename")?;
                Record::Mmap2(Mmap2 {
                    pid,
                    tid,
                    addr,
                    len,
                    pgoff,
                    file_id,
                    prot,
                    flags,
                    cpumode: self.header.misc & MISC_CPUMODE_MASK,
                    filename,
                    sample_id: trailer(&c)?,
                })
            }
            RecordType::TRACER_NAMESPACES => {
                let (pid, tid) = c.pid_tid("pid/tid")?;
                let namespaces = parse_ns_links(&mut c, "nr_namespaces", "link_info")?;
                let nr = bounded_levels(kind, c.u64("nr_tracer_levels")?, "nr_tracer_levels")?;
                let mut tracer_ns = Vec::with_capacity(nr);
                for _ in 0..nr {
                    tracer_ns.push(c.u64("tracer_ns")?);
                }
                let nr = bounded_levels(kind, c.u64("nr_pid_levels")?, "nr_pid_levels")?;
                let mut pids = Vec::with_capacity(nr);
                for _ in 0..nr {
                    pids.push(c.pid_tid("pids.pid/tid")?);
                }
                // Nothing before the sample_id: the first version's record.
                let mut tracer_ns_ids = Vec::new();
                if body_end()? > c.pos {
                    tracer_ns_ids.reserve(tracer_ns.len());
                    for _ in 0..tracer_ns.len() {
                        tracer_ns_ids.push(c.u64("tracer_ns_id")?);
                    }
                }
                Record::TracerNamespaces(TracerNamespaces {
                    pid,
                    tid,
                    namespaces,
                    tracer_ns,
                    tracer_ns_ids,
                    pids,
                    sample_id: trailer(&c)?,
                })
            }
            RecordType::FINISHED_ROUND => Record::FinishedRound,
            other => Record::Unknown(other),
        };
        Ok(record)
    }
}

/// A level count of PERF_RECORD_TRACER_NAMESPACES, checked against the
/// kernel's nesting limit before anything is allocated for it.
fn bounded_levels(kind: RecordType, nr: u64, field: &'static str) -> Result<usize, ParseError> {
    if nr > MAX_TRACER_NS_LEVEL as u64 + 1 {
        return Err(ParseError::Invalid {
            record: kind,
            field,
            reason: format!("{nr} levels, more than the kernel's limit"),
        });
    }
    Ok(nr as usize)
}

fn parse_ns_links<O: ByteOrder>(
    c: &mut Cursor<'_, '_, O>,
    nr_field: &'static str,
    field: &'static str,
) -> Result<Vec<NamespaceLink>, ParseError> {
    let nr = c.u64(nr_field)?;
    let nr = usize::try_from(nr)
        .ok()
        .filter(|&n| n <= c.remaining() / 16)
        .ok_or_else(|| ParseError::Invalid {
            record: c.kind,
            field: nr_field,
            reason: format!("{nr} namespaces do not fit in the record"),
        })?;
    let mut out = Vec::with_capacity(nr);
    for _ in 0..nr {
        let dev = c.u64(field)?;
        let ino = c.u64(field)?;
        out.push(NamespaceLink { dev, ino });
    }
    Ok(out)
}

impl Record<'_> {
    /// The time of the record, from its sample or sample_id fields.
    pub fn time(&self) -> Option<u64> {
        self.sample_id().and_then(|s| s.time)
    }

    /// The record's sample_id (for a sample, its identifying fields).
    pub fn sample_id(&self) -> Option<&SampleId> {
        Some(match self {
            Record::Sample(s) => &s.id,
            Record::Comm(r) => &r.sample_id,
            Record::Fork(r) | Record::Exit(r) => &r.sample_id,
            Record::Namespaces(r) => &r.sample_id,
            Record::Cgroup(r) => &r.sample_id,
            Record::Switch(r) => &r.sample_id,
            Record::Lost(r) => &r.sample_id,
            Record::LostSamples(r) => &r.sample_id,
            Record::Throttle(r) | Record::Unthrottle(r) => &r.sample_id,
            Record::Mmap(r) => &r.sample_id,
            Record::Mmap2(r) => &r.sample_id,
            Record::TracerNamespaces(r) => &r.sample_id,
            Record::FinishedRound | Record::Unknown(_) => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use byteorder::{BigEndian, NativeEndian};

    use super::*;
    use crate::attr::flags;

    fn attr(sample_type: SampleFormat) -> EventAttr {
        EventAttr {
            sample_type,
            flags: flags::SAMPLE_ID_ALL,
            ..Default::default()
        }
    }

    fn ids() -> SampleFormat {
        SampleFormat::IDENTIFIER | SampleFormat::TID | SampleFormat::TIME | SampleFormat::CPU
    }

    /// The sample_id trailer for `ids()`, in field order.
    fn trailer(pid: i32, tid: i32, time: u64, cpu: u32, id: u64) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&pid.to_ne_bytes());
        b.extend_from_slice(&tid.to_ne_bytes());
        b.extend_from_slice(&time.to_ne_bytes());
        b.extend_from_slice(&cpu.to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes());
        b.extend_from_slice(&id.to_ne_bytes());
        b
    }

    #[test]
    fn a_layout_finds_the_time_whole_or_split_at_the_ring_end() {
        let layout = SampleLayout::of(&attr(ids() | SampleFormat::RAW));
        // COMM of task 7, then its trailer: time 123456 at byte 16 + 8.
        let mut comm = [7u32.to_ne_bytes(), 7u32.to_ne_bytes()].concat();
        comm.extend(b"sh\0\0\0\0\0\0");
        comm.extend(trailer(7, 7, 123_456, 1, 40));
        // A sample: identifier, pid/tid, time 654321, cpu, raw.
        let mut sample = 40u64.to_ne_bytes().to_vec();
        sample.extend(trailer(7, 7, 654_321, 1, 40)[..16].iter());
        sample.extend(1u64.to_ne_bytes());
        sample.extend(4u32.to_ne_bytes());
        sample.extend([1, 2, 3, 4]);
        for (kind, body, time) in [
            (RecordType::COMM, &comm, 123_456),
            (RecordType::SAMPLE, &sample, 654_321),
        ] {
            let whole = RawData::Single(body);
            assert_eq!(layout.record_time::<NativeEndian>(kind, &whole), Some(time));
            // Cut inside the time, and around it.
            for cut in [3, 12, 20, 27, body.len() - 3] {
                let (a, b) = body.split_at(cut);
                let split = RawData::Split(a, b);
                assert_eq!(
                    layout.record_time::<NativeEndian>(kind, &split),
                    Some(time),
                    "{cut}"
                );
            }
        }
        // perf's own records, and a record too short for its trailer, have none.
        let none = RawData::Single(&comm[..20]);
        assert_eq!(
            layout.record_time::<NativeEndian>(RecordType::COMM, &none),
            None
        );
        let finished = RawData::Single(&[]);
        assert_eq!(
            layout.record_time::<NativeEndian>(RecordType::FINISHED_ROUND, &finished),
            None
        );
    }

    fn raw(kind: RecordType, misc: u16, body: &[u8]) -> RawRecord<'_> {
        let size = (body.len() + RecordHeader::SIZE) as u16;
        RawRecord {
            header: RecordHeader { kind, misc, size },
            data: RawData::Single(body),
        }
    }

    fn sample_body() -> Vec<u8> {
        // identifier, pid/tid, time, cpu/res, raw size + data (padded to 8).
        let mut b = Vec::new();
        b.extend_from_slice(&77u64.to_ne_bytes());
        b.extend_from_slice(&10i32.to_ne_bytes());
        b.extend_from_slice(&11i32.to_ne_bytes());
        b.extend_from_slice(&123_456u64.to_ne_bytes());
        b.extend_from_slice(&3u32.to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes());
        b.extend_from_slice(&4u32.to_ne_bytes());
        b.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        b
    }

    #[test]
    fn sample_fields_come_out_in_layout_order() {
        let body = sample_body();
        let a = attr(ids() | SampleFormat::RAW);
        let Record::Sample(s) = raw(RecordType::SAMPLE, 0, &body)
            .parse::<NativeEndian>(&a)
            .unwrap()
        else {
            panic!("not a sample")
        };
        assert_eq!(s.id.id, Some(77));
        assert_eq!((s.id.pid, s.id.tid), (Some(10), Some(11)));
        assert_eq!(s.id.time, Some(123_456));
        assert_eq!(s.id.cpu, Some(3));
        assert_eq!(s.raw.as_deref(), Some(&[0xde, 0xad, 0xbe, 0xef][..]));
        assert!(
            matches!(s.raw, Some(Cow::Borrowed(_))),
            "contiguous payload is borrowed"
        );
    }

    #[test]
    fn the_cgroup_follows_the_raw_payload_and_fixed_fields() {
        let mut body = sample_body();
        body.extend_from_slice(&9u64.to_ne_bytes()); // phys_addr
        body.extend_from_slice(&44u64.to_ne_bytes()); // cgroup
        let a = attr(ids() | SampleFormat::RAW | SampleFormat::PHYS_ADDR | SampleFormat::CGROUP);
        let Record::Sample(s) = raw(RecordType::SAMPLE, 0, &body)
            .parse::<NativeEndian>(&a)
            .unwrap()
        else {
            panic!("not a sample")
        };
        assert_eq!(s.cgroup, Some(44));
        assert_eq!(s.raw.as_deref(), Some(&[0xde, 0xad, 0xbe, 0xef][..]));
        let cut = raw(RecordType::SAMPLE, 0, &body[..body.len() - 8]).parse::<NativeEndian>(&a);
        assert!(
            matches!(
                cut,
                Err(ParseError::Truncated {
                    field: "cgroup",
                    ..
                })
            ),
            "{cut:?}"
        );
    }

    #[test]
    fn a_call_chain_is_read_in_place_in_either_byte_order() {
        // identifier, pid/tid, time, cpu/res, callchain (nr 3: a context
        // marker and two ips), cgroup, as perf record -g --all-cgroups.
        let ips = [0xffff_ffff_ffff_ff80u64, 0xffff_ffff_8100_1234, 0x40_1000];
        let a = attr(ids() | SampleFormat::CALLCHAIN | SampleFormat::CGROUP);
        let body = |be: bool| {
            let u64s = |v: u64| if be { v.to_be_bytes() } else { v.to_le_bytes() };
            let u32s = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
            let mut b = u64s(77).to_vec();
            b.extend(u32s(10));
            b.extend(u32s(11));
            b.extend(u64s(123_456));
            b.extend(u32s(1));
            b.extend(u32s(0));
            b.extend(u64s(3));
            for ip in ips {
                b.extend(u64s(ip));
            }
            b.extend(u64s(44));
            b
        };
        let (le, be) = (body(false), body(true));
        let samples = [
            raw(RecordType::SAMPLE, 0, &le).parse::<byteorder::LittleEndian>(&a),
            raw(RecordType::SAMPLE, 0, &be).parse::<BigEndian>(&a),
        ];
        for parsed in samples {
            let Ok(Record::Sample(s)) = parsed else {
                panic!("not a sample: {parsed:?}")
            };
            let chain = s.callchain.as_ref().expect("a call chain");
            assert_eq!(chain.len(), 3);
            assert_eq!(chain.ips().collect::<Vec<_>>(), ips);
            assert_eq!(s.cgroup, Some(44));
            assert_eq!(s.id.time, Some(123_456));
        }
        // A count past the record's end is refused, not read.
        let mut long = le.clone();
        long[32..40].copy_from_slice(&5u64.to_le_bytes());
        let err = raw(RecordType::SAMPLE, 0, &long).parse::<byteorder::LittleEndian>(&a);
        assert!(
            matches!(
                err,
                Err(ParseError::Invalid {
                    field: "callchain.nr",
                    ..
                })
            ),
            "{err:?}"
        );
    }

    #[test]
    fn user_registers_and_stack_are_read_for_dwarf_unwinding() {
        // identifier, pid/tid, time, cpu/res, regs_user (abi 64, mask: AX,
        // SP, IP), stack_user (size 16, 8 valid), cgroup: as perf record
        // --call-graph dwarf --all-cgroups, cut down.
        let mut a =
            attr(ids() | SampleFormat::REGS_USER | SampleFormat::STACK_USER | SampleFormat::CGROUP);
        a.sample_regs_user = 1 | 1 << 7 | 1 << 8;
        let head = |b: &mut Vec<u8>| {
            b.extend(77u64.to_le_bytes());
            b.extend(10u32.to_le_bytes());
            b.extend(11u32.to_le_bytes());
            b.extend(123_456u64.to_le_bytes());
            b.extend([0; 8]);
        };
        let mut body = Vec::new();
        head(&mut body);
        for v in [UserRegs::ABI_64, 0xa, 0x7ffd_0000, 0x40_1234] {
            body.extend(v.to_le_bytes());
        }
        body.extend(16u64.to_le_bytes());
        body.extend(0x1122_3344_5566_7788u64.to_le_bytes());
        body.extend([0xee; 8]);
        body.extend(8u64.to_le_bytes());
        body.extend(44u64.to_le_bytes());
        let parsed = raw(RecordType::SAMPLE, 0, &body).parse::<byteorder::LittleEndian>(&a);
        let Ok(Record::Sample(s)) = parsed else {
            panic!("not a sample: {parsed:?}")
        };
        let regs = s.regs_user.as_ref().expect("user registers");
        assert_eq!(regs.abi, UserRegs::ABI_64);
        assert_eq!(
            [0, 7, 8, 6].map(|r| regs.get(r)),
            [Some(0xa), Some(0x7ffd_0000), Some(0x40_1234), None]
        );
        assert_eq!(
            s.stack_user.as_deref(),
            Some(&0x1122_3344_5566_7788u64.to_le_bytes()[..])
        );
        assert_eq!(s.cgroup, Some(44));

        // A kernel thread's: ABI none, no registers, an empty stack (no
        // dyn_size), then the cgroup.
        let mut none = Vec::new();
        head(&mut none);
        none.extend(UserRegs::ABI_NONE.to_le_bytes());
        none.extend(0u64.to_le_bytes());
        none.extend(45u64.to_le_bytes());
        let parsed = raw(RecordType::SAMPLE, 0, &none).parse::<byteorder::LittleEndian>(&a);
        let Ok(Record::Sample(s)) = parsed else {
            panic!("not a sample: {parsed:?}")
        };
        assert_eq!(
            s.regs_user.as_ref().map(|r| (r.abi, r.get(8))),
            Some((0, None))
        );
        assert_eq!(s.stack_user.as_deref(), Some(&[][..]));
        assert_eq!(s.cgroup, Some(45));

        // Sizes past the record, and a dyn_size past the copy, are refused
        // naming the field.
        let field_of = |body: &[u8]| match raw(RecordType::SAMPLE, 0, body)
            .parse::<byteorder::LittleEndian>(&a)
        {
            Err(ParseError::Invalid { field, .. } | ParseError::Truncated { field, .. }) => field,
            other => panic!("accepted: {other:?}"),
        };
        let mut big = body.clone();
        big[64..72].copy_from_slice(&4096u64.to_le_bytes());
        assert_eq!(field_of(&big), "stack_user.size");
        let mut dyn_big = body.clone();
        dyn_big[88..96].copy_from_slice(&17u64.to_le_bytes());
        assert_eq!(field_of(&dyn_big), "stack_user.dyn_size");
        assert_eq!(field_of(&body[..40]), "regs_user.regs");
    }

    #[test]
    fn a_split_record_parses_like_a_contiguous_one() {
        let body = sample_body();
        let a = attr(ids() | SampleFormat::RAW);
        let whole = raw(RecordType::SAMPLE, 0, &body)
            .parse::<NativeEndian>(&a)
            .unwrap();
        for cut in 0..=body.len() {
            let (x, y) = body.split_at(cut);
            let split = RawRecord {
                header: raw(RecordType::SAMPLE, 0, &body).header,
                data: RawData::Split(x, y),
            };
            assert_eq!(
                split.parse::<NativeEndian>(&a).unwrap(),
                whole,
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn comm_reads_name_exec_bit_and_trailer() {
        let mut body = Vec::new();
        body.extend_from_slice(&5i32.to_ne_bytes());
        body.extend_from_slice(&6i32.to_ne_bytes());
        body.extend_from_slice(b"worker\0\0");
        body.extend(trailer(5, 6, 99, 1, 42));
        let r = raw(RecordType::COMM, MISC_COMM_EXEC, &body)
            .parse::<NativeEndian>(&attr(ids()))
            .unwrap();
        let Record::Comm(c) = r else { panic!("{r:?}") };
        assert_eq!(
            (c.pid, c.tid, c.comm.as_str(), c.exec),
            (5, 6, "worker", true)
        );
        assert_eq!(c.sample_id.time, Some(99));
        assert_eq!(c.sample_id.id, Some(42));
    }

    /// An MMAP2 body of task 7: a mapping of `/usr/bin/x` at 0x400000,
    /// 0x1000 long, offset 0x2000, PROT_READ|PROT_EXEC, MAP_PRIVATE, the
    /// 24-byte union given.
    fn mmap2_body(union: &[u8; 24]) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&7i32.to_ne_bytes());
        body.extend_from_slice(&7i32.to_ne_bytes());
        for v in [0x40_0000u64, 0x1000, 0x2000] {
            body.extend_from_slice(&v.to_ne_bytes());
        }
        body.extend_from_slice(union);
        body.extend_from_slice(&5u32.to_ne_bytes());
        body.extend_from_slice(&2u32.to_ne_bytes());
        body.extend_from_slice(b"/usr/bin/x\0\0\0\0\0\0");
        body.extend(trailer(7, 7, 99, 1, 42));
        body
    }

    #[test]
    fn mmap2_reads_its_inode_or_its_build_id() {
        let mut union = [0u8; 24];
        union[0..4].copy_from_slice(&8u32.to_ne_bytes());
        union[4..8].copy_from_slice(&1u32.to_ne_bytes());
        union[8..16].copy_from_slice(&1234u64.to_ne_bytes());
        union[16..24].copy_from_slice(&5u64.to_ne_bytes());
        let body = mmap2_body(&union);
        let r = raw(RecordType::MMAP2, MISC_USER, &body)
            .parse::<NativeEndian>(&attr(ids()))
            .unwrap();
        let Record::Mmap2(m) = r else { panic!("{r:?}") };
        assert_eq!(
            (m.pid, m.addr, m.len, m.pgoff, m.prot, m.flags),
            (7, 0x40_0000, 0x1000, 0x2000, 5, 2)
        );
        assert_eq!(
            m.file_id,
            MappedFileId::Inode {
                maj: 8,
                min: 1,
                ino: 1234,
                ino_generation: 5
            }
        );
        assert_eq!((m.build_id(), m.cpumode), (None, MISC_USER));
        assert_eq!(
            (m.filename.as_str(), m.sample_id.time),
            ("/usr/bin/x", Some(99))
        );

        // The same union as a build-id: its size first, then 20 bytes.
        let mut union = [0u8; 24];
        union[0] = 20;
        for (i, b) in union[4..].iter_mut().enumerate() {
            *b = i as u8 + 1;
        }
        let misc = MISC_USER | MISC_MMAP_BUILD_ID;
        let body = mmap2_body(&union);
        let r = raw(RecordType::MMAP2, misc, &body)
            .parse::<NativeEndian>(&attr(ids()))
            .unwrap();
        let Record::Mmap2(m) = r else { panic!("{r:?}") };
        assert_eq!(m.build_id(), Some(&(1..=20).collect::<Vec<u8>>()[..]));
        assert_eq!(m.filename, "/usr/bin/x");
        // A shorter build-id (an 8-byte one of lld's --build-id=fast).
        union[0] = 8;
        let body = mmap2_body(&union);
        let r = raw(RecordType::MMAP2, misc, &body)
            .parse::<NativeEndian>(&attr(ids()))
            .unwrap();
        let Record::Mmap2(m) = r else { panic!("{r:?}") };
        assert_eq!(m.build_id(), Some(&[1, 2, 3, 4, 5, 6, 7, 8][..]));
        // More than the union holds is refused, naming the field.
        union[0] = 21;
        let body = mmap2_body(&union);
        let err = raw(RecordType::MMAP2, misc, &body)
            .parse::<NativeEndian>(&attr(ids()))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "MMAP2 record: field `build_id_size`: 21 bytes, more than the 20 the record holds"
        );
    }

    #[test]
    fn mmap_reads_the_kernels_mapping_as_perf_synthesizes_it() {
        // perf's synthesized kernel map: pid -1, cpumode kernel, pgoff the
        // address of _text.
        let mut body = Vec::new();
        body.extend_from_slice(&(-1i32).to_ne_bytes());
        body.extend_from_slice(&0i32.to_ne_bytes());
        for v in [
            0xffff_ffff_8100_0000u64,
            0x1_0000_0000,
            0xffff_ffff_8100_0000,
        ] {
            body.extend_from_slice(&v.to_ne_bytes());
        }
        body.extend_from_slice(b"[kernel.kallsyms]_text\0\0");
        body.extend(trailer(-1, 0, 0, 0, 0));
        let r = raw(RecordType::MMAP, MISC_KERNEL, &body)
            .parse::<NativeEndian>(&attr(ids()))
            .unwrap();
        let Record::Mmap(m) = r else { panic!("{r:?}") };
        assert_eq!(
            (m.pid, m.addr, m.len, m.pgoff, m.cpumode),
            (
                -1,
                0xffff_ffff_8100_0000,
                0x1_0000_0000,
                0xffff_ffff_8100_0000,
                MISC_KERNEL
            )
        );
        assert_eq!(m.filename, "[kernel.kallsyms]_text");
        // Cut inside the file name: an error naming it, no panic.
        let err = raw(RecordType::MMAP, MISC_KERNEL, &body[..40])
            .parse::<NativeEndian>(&attr(ids()))
            .unwrap_err();
        assert!(err.to_string().contains("MMAP record"), "{err}");
    }

    #[test]
    fn namespaces_take_any_count() {
        let mut body = Vec::new();
        body.extend_from_slice(&1i32.to_ne_bytes());
        body.extend_from_slice(&1i32.to_ne_bytes());
        body.extend_from_slice(&9u64.to_ne_bytes());
        for i in 0..9u64 {
            body.extend_from_slice(&4u64.to_ne_bytes());
            body.extend_from_slice(&(0xf000_0000 + i).to_ne_bytes());
        }
        body.extend(trailer(1, 1, 5, 0, 42));
        let r = raw(RecordType::NAMESPACES, 0, &body)
            .parse::<NativeEndian>(&attr(ids()))
            .unwrap();
        let Record::Namespaces(n) = r else {
            panic!("{r:?}")
        };
        assert_eq!(n.namespaces.len(), 9);
        assert_eq!(
            n.pid_ns(),
            Some(NamespaceLink {
                dev: 4,
                ino: 0xf000_0003
            })
        );
    }

    #[test]
    fn a_namespace_count_past_the_record_is_refused() {
        let mut body = Vec::new();
        body.extend_from_slice(&[0; 8]);
        body.extend_from_slice(&u64::MAX.to_ne_bytes());
        body.extend(trailer(1, 1, 5, 0, 42));
        let err = raw(RecordType::NAMESPACES, 0, &body)
            .parse::<NativeEndian>(&attr(ids()))
            .unwrap_err();
        assert!(err.to_string().contains("nr_namespaces"), "{err}");
    }

    #[test]
    fn switch_cpu_wide_reads_direction_and_other_task() {
        let mut body = Vec::new();
        body.extend_from_slice(&300i32.to_ne_bytes());
        body.extend_from_slice(&301i32.to_ne_bytes());
        body.extend(trailer(7, 8, 1000, 2, 42));
        let misc = MISC_SWITCH_OUT | MISC_SWITCH_OUT_PREEMPT;
        let r = raw(RecordType::SWITCH_CPU_WIDE, misc, &body)
            .parse::<NativeEndian>(&attr(ids()))
            .unwrap();
        let Record::Switch(s) = r else {
            panic!("{r:?}")
        };
        assert!(s.out && s.preempt);
        assert_eq!(s.next_prev, Some((300, 301)));
        assert_eq!((s.sample_id.tid, s.sample_id.cpu), (Some(8), Some(2)));
    }

    #[test]
    fn the_sample_id_is_read_from_the_records_end() {
        // A FORK record with a field this parser does not know between its
        // time and its sample_id, as a newer kernel may write: the
        // sample_id is still its last 32 bytes.
        let mut body = Vec::new();
        for v in [20i32, 1, 21, 1] {
            body.extend_from_slice(&v.to_ne_bytes());
        }
        body.extend_from_slice(&555u64.to_ne_bytes());
        body.extend_from_slice(&0xfeed_u64.to_ne_bytes());
        body.extend(trailer(20, 21, 555, 3, 42));
        let r = raw(RecordType::FORK, 0, &body)
            .parse::<NativeEndian>(&attr(ids()))
            .unwrap();
        let Record::Fork(f) = r else { panic!("{r:?}") };
        assert_eq!(
            f.sample_id,
            SampleId {
                pid: Some(20),
                tid: Some(21),
                time: Some(555),
                id: Some(42),
                stream_id: None,
                cpu: Some(3),
            }
        );
    }

    #[test]
    fn fields_that_run_into_the_sample_id_are_refused() {
        // A LOST record (id, lost) whose sample_id would start inside it.
        let mut body = Vec::new();
        body.extend_from_slice(&42u64.to_ne_bytes());
        body.extend(trailer(1, 1, 5, 0, 42));
        let err = raw(RecordType::LOST, 0, &body)
            .parse::<NativeEndian>(&attr(ids()))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "LOST record: field `sample_id`: the record's fields run to byte 16, \
             past the start of its sample_id at byte 8"
        );
    }

    #[test]
    fn a_group_read_is_skipped_by_its_count() {
        // perf record -e '{a,b}:S': PERF_SAMPLE_READ with PERF_FORMAT_GROUP
        // and PERF_FORMAT_ID holds nr, then nr (value, id) pairs; the raw
        // payload after it must still be found.
        let a = EventAttr {
            read_format: crate::attr::read_format::GROUP | crate::attr::read_format::ID,
            ..attr(SampleFormat::IDENTIFIER | SampleFormat::READ | SampleFormat::RAW)
        };
        let mut body = Vec::new();
        body.extend_from_slice(&77u64.to_ne_bytes());
        body.extend_from_slice(&2u64.to_ne_bytes());
        for v in [100u64, 77, 200, 78] {
            body.extend_from_slice(&v.to_ne_bytes());
        }
        body.extend_from_slice(&4u32.to_ne_bytes());
        body.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        let r = raw(RecordType::SAMPLE, 0, &body)
            .parse::<NativeEndian>(&a)
            .unwrap();
        let Record::Sample(s) = r else {
            panic!("{r:?}")
        };
        assert_eq!(s.raw.as_deref(), Some(&[0xde, 0xad, 0xbe, 0xef][..]));

        body[8..16].copy_from_slice(&u64::MAX.to_ne_bytes());
        let err = raw(RecordType::SAMPLE, 0, &body)
            .parse::<NativeEndian>(&a)
            .unwrap_err();
        assert!(err.to_string().contains("read.nr"), "{err}");
    }

    #[test]
    fn truncated_fields_name_the_field_and_offset() {
        let body = sample_body();
        let a = attr(ids() | SampleFormat::RAW);
        let err = raw(RecordType::SAMPLE, 0, &body[..20])
            .parse::<NativeEndian>(&a)
            .unwrap_err();
        let ParseError::Truncated { field, offset, .. } = err else {
            panic!("{err}")
        };
        assert_eq!((field, offset), ("time", 16));
    }

    #[test]
    fn a_raw_size_past_the_end_is_an_error() {
        let mut body = sample_body();
        let at = body.len() - 8;
        body[at..at + 4].copy_from_slice(&1000u32.to_ne_bytes());
        let a = attr(ids() | SampleFormat::RAW);
        let err = raw(RecordType::SAMPLE, 0, &body)
            .parse::<NativeEndian>(&a)
            .unwrap_err();
        assert!(err.to_string().contains("raw.data"), "{err}");
    }

    #[test]
    fn comm_without_nul_is_refused() {
        let mut body = Vec::new();
        body.extend_from_slice(&[1, 0, 0, 0, 1, 0, 0, 0]);
        body.extend_from_slice(b"abcdefgh");
        body.extend(trailer(1, 1, 1, 0, 1));
        let err = raw(RecordType::COMM, 0, &body)
            .parse::<NativeEndian>(&attr(ids()))
            .unwrap_err();
        assert!(err.to_string().contains("NUL"), "{err}");
    }

    #[test]
    fn user_records_have_no_trailer_even_with_sample_id_all() {
        let r = raw(RecordType::FINISHED_ROUND, 0, &[])
            .parse::<NativeEndian>(&attr(ids()))
            .unwrap();
        assert_eq!(r, Record::FinishedRound);
        let r = raw(RecordType::CPU_MAP, 0, &[0; 4])
            .parse::<NativeEndian>(&attr(ids()))
            .unwrap();
        assert_eq!(r, Record::Unknown(RecordType::CPU_MAP));
    }

    #[test]
    fn big_endian_fork_decodes() {
        let mut body = Vec::new();
        for v in [20i32, 1, 21, 1] {
            body.extend_from_slice(&v.to_be_bytes());
        }
        body.extend_from_slice(&555u64.to_be_bytes());
        let a = EventAttr::default();
        let r = raw(RecordType::FORK, 0, &body)
            .parse::<BigEndian>(&a)
            .unwrap();
        let Record::Fork(f) = r else { panic!("{r:?}") };
        assert_eq!((f.pid, f.ppid, f.tid, f.ptid, f.time), (20, 1, 21, 1, 555));
    }

    /// A TRACER_NAMESPACES body for tid 3: two tracer levels, two pid
    /// levels, `ids` after the pids (none: the series' first version).
    fn tracer_namespaces_body(ids: &[u64]) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&3i32.to_ne_bytes());
        body.extend_from_slice(&3i32.to_ne_bytes());
        body.extend_from_slice(&0u64.to_ne_bytes());
        body.extend_from_slice(&2u64.to_ne_bytes());
        for ns in [0xeffff001u64, 0xeffff002] {
            body.extend_from_slice(&ns.to_ne_bytes());
        }
        body.extend_from_slice(&2u64.to_ne_bytes());
        for pid in [1234i32, 3] {
            body.extend_from_slice(&pid.to_ne_bytes());
            body.extend_from_slice(&pid.to_ne_bytes());
        }
        for id in ids {
            body.extend_from_slice(&id.to_ne_bytes());
        }
        body.extend(trailer(3, 3, 1, 0, 1));
        body
    }

    /// `body` parsed as a TRACER_NAMESPACES record.
    fn parse_tracer_namespaces(body: &[u8]) -> Result<TracerNamespaces, ParseError> {
        match raw(RecordType::TRACER_NAMESPACES, 0, body).parse::<NativeEndian>(&attr(ids()))? {
            Record::TracerNamespaces(t) => Ok(t),
            r => panic!("{r:?}"),
        }
    }

    #[test]
    fn tracer_namespaces_levels_decode_and_are_bounded() {
        let mut body = tracer_namespaces_body(&[1, 7]);
        let t = parse_tracer_namespaces(&body).unwrap();
        assert_eq!(t.tracer_ns, [0xeffff001, 0xeffff002]);
        assert_eq!(t.tracer_ns_ids, [1, 7]);
        assert_eq!(t.own_tracer_ns(), Some(0xeffff002));
        assert_eq!(t.pids, [(1234, 1234), (3, 3)]);
        assert_eq!(t.sample_id.tid, Some(3));

        body[16..24].copy_from_slice(&1000u64.to_ne_bytes());
        let err = parse_tracer_namespaces(&body).unwrap_err();
        assert!(err.to_string().contains("nr_tracer_levels"), "{err}");
    }

    /// The series' first record (type 22, which the reader hands out as
    /// TRACER_NAMESPACES) has nothing after its pids: no ids. A record with
    /// fewer ids than levels is malformed, not a first-version one.
    #[test]
    fn tracer_namespaces_of_the_first_version_have_no_ids() {
        let t = parse_tracer_namespaces(&tracer_namespaces_body(&[])).unwrap();
        assert_eq!(t.tracer_ns, [0xeffff001, 0xeffff002]);
        assert!(t.tracer_ns_ids.is_empty());
        assert_eq!(t.pids, [(1234, 1234), (3, 3)]);

        let err = parse_tracer_namespaces(&tracer_namespaces_body(&[1])).unwrap_err();
        assert!(err.to_string().contains("sample_id"), "{err}");
    }
}
