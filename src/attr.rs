//! `struct perf_event_attr` as data: decoded from and encoded to the bytes
//! the kernel and perf.data files use, and the set of attrs of a recording,
//! which tells which attr a record belongs to.
//!
//! The layout (include/uapi/linux/perf_event.h, 6.12):
//!
//! ```c
//! struct perf_event_attr {
//!     __u32 type;                 /*   0 */
//!     __u32 size;                 /*   4 */
//!     __u64 config;               /*   8 */
//!     union { __u64 sample_period; __u64 sample_freq; };   /* 16 */
//!     __u64 sample_type;          /*  24 */
//!     __u64 read_format;          /*  32 */
//!     __u64 disabled : 1, inherit : 1, ... ;               /* 40: flags */
//!     union { __u32 wakeup_events; __u32 wakeup_watermark; };   /* 48 */
//!     __u32 bp_type;              /*  52 */
//!     union { __u64 bp_addr; __u64 kprobe_func; __u64 uprobe_path; __u64 config1; }; /* 56 */
//!     union { __u64 bp_len; __u64 kprobe_addr; __u64 probe_offset; __u64 config2; }; /* 64 */
//!     __u64 branch_sample_type;   /*  72 */
//!     __u64 sample_regs_user;     /*  80 */
//!     __u32 sample_stack_user;    /*  88 */
//!     __s32 clockid;              /*  92 */
//!     __u64 sample_regs_intr;     /*  96 */
//!     __u32 aux_watermark;        /* 104 */
//!     __u16 sample_max_stack;     /* 108 */
//!     __u16 __reserved_2;         /* 110 */
//!     __u32 aux_sample_size;      /* 112 */
//!     __u32 __reserved_3;         /* 116 */
//!     __u64 sig_data;             /* 120 */
//!     __u64 config3;              /* 128 */
//! };                              /* 136 = PERF_ATTR_SIZE_VER8 */
//! ```

use std::collections::HashMap;

use byteorder::ByteOrder;
use perf_event_open_sys::bindings as sys;

use crate::error::ParseError;

/// `enum perf_event_sample_format`: which fields a sample carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct SampleFormat(pub u64);

impl SampleFormat {
    /// PERF_SAMPLE_IP
    pub const IP: Self = Self(sys::PERF_SAMPLE_IP as u64);
    /// PERF_SAMPLE_TID
    pub const TID: Self = Self(sys::PERF_SAMPLE_TID as u64);
    /// PERF_SAMPLE_TIME
    pub const TIME: Self = Self(sys::PERF_SAMPLE_TIME as u64);
    /// PERF_SAMPLE_ADDR
    pub const ADDR: Self = Self(sys::PERF_SAMPLE_ADDR as u64);
    /// PERF_SAMPLE_READ
    pub const READ: Self = Self(sys::PERF_SAMPLE_READ as u64);
    /// PERF_SAMPLE_CALLCHAIN
    pub const CALLCHAIN: Self = Self(sys::PERF_SAMPLE_CALLCHAIN as u64);
    /// PERF_SAMPLE_ID
    pub const ID: Self = Self(sys::PERF_SAMPLE_ID as u64);
    /// PERF_SAMPLE_CPU
    pub const CPU: Self = Self(sys::PERF_SAMPLE_CPU as u64);
    /// PERF_SAMPLE_PERIOD
    pub const PERIOD: Self = Self(sys::PERF_SAMPLE_PERIOD as u64);
    /// PERF_SAMPLE_STREAM_ID
    pub const STREAM_ID: Self = Self(sys::PERF_SAMPLE_STREAM_ID as u64);
    /// PERF_SAMPLE_RAW
    pub const RAW: Self = Self(sys::PERF_SAMPLE_RAW as u64);
    /// PERF_SAMPLE_BRANCH_STACK
    pub const BRANCH_STACK: Self = Self(sys::PERF_SAMPLE_BRANCH_STACK as u64);
    /// PERF_SAMPLE_REGS_USER
    pub const REGS_USER: Self = Self(sys::PERF_SAMPLE_REGS_USER as u64);
    /// PERF_SAMPLE_STACK_USER
    pub const STACK_USER: Self = Self(sys::PERF_SAMPLE_STACK_USER as u64);
    /// PERF_SAMPLE_WEIGHT
    pub const WEIGHT: Self = Self(sys::PERF_SAMPLE_WEIGHT as u64);
    /// PERF_SAMPLE_DATA_SRC
    pub const DATA_SRC: Self = Self(sys::PERF_SAMPLE_DATA_SRC as u64);
    /// PERF_SAMPLE_IDENTIFIER
    pub const IDENTIFIER: Self = Self(sys::PERF_SAMPLE_IDENTIFIER as u64);
    /// PERF_SAMPLE_TRANSACTION
    pub const TRANSACTION: Self = Self(sys::PERF_SAMPLE_TRANSACTION as u64);
    /// PERF_SAMPLE_REGS_INTR
    pub const REGS_INTR: Self = Self(sys::PERF_SAMPLE_REGS_INTR as u64);
    /// PERF_SAMPLE_PHYS_ADDR
    pub const PHYS_ADDR: Self = Self(sys::PERF_SAMPLE_PHYS_ADDR as u64);
    /// PERF_SAMPLE_CGROUP: the id of the task's cgroup (cgroup v2), which a
    /// PERF_RECORD_CGROUP names.
    pub const CGROUP: Self = Self(sys::PERF_SAMPLE_CGROUP as u64);
    /// PERF_SAMPLE_WEIGHT_STRUCT
    pub const WEIGHT_STRUCT: Self = Self(sys::PERF_SAMPLE_WEIGHT_STRUCT as u64);

    /// Whether every bit of `other` is set.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

impl SampleFormat {
    /// The size of the `sample_id` trailer these bits give a non-sample
    /// record (when the event has `sample_id_all`).
    pub fn sample_id_size(self) -> usize {
        [
            Self::TID,
            Self::TIME,
            Self::ID,
            Self::STREAM_ID,
            Self::CPU,
            Self::IDENTIFIER,
        ]
        .into_iter()
        .filter(|&bit| self.contains(bit))
        .count()
            * 8
    }
}

/// Where a record of an event keeps its id and its time: worked out once
/// per event from its sample_type (as linux-perf-event-reader's
/// RecordParseInfo and perf's `id_pos`/`is_pos` are), then used for every
/// record, instead of being worked out again from the bits each time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SampleLayout {
    /// The offset of the id in a sample's body: 0 with
    /// PERF_SAMPLE_IDENTIFIER, else PERF_SAMPLE_ID's place after ip, tid,
    /// time and addr; `None` without either.
    pub sample_id: Option<usize>,
    /// The offset of the time in a sample's body (after identifier, ip and
    /// tid).
    pub sample_time: Option<usize>,
    /// The size of the `sample_id` trailer of other kernel records; 0
    /// without `sample_id_all`.
    pub trailer: usize,
    /// The offset of the id in that trailer (IDENTIFIER last, else ID after
    /// tid and time).
    pub trailer_id: Option<usize>,
    /// The offset of the time in that trailer (after tid).
    pub trailer_time: Option<usize>,
    /// Where a sample keeps its fixed-size fields, from the identifier to
    /// the period: every sample of the event has them at these offsets.
    pub sample_fields: SampleFields,
}

/// The offsets of a sample's fixed-size fields in its body (the fields
/// before PERF_SAMPLE_READ, whose size varies), and where they end: a
/// sample at least [`SampleFields::end`] bytes long is read field by
/// field at these offsets, without a cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SampleFields {
    /// PERF_SAMPLE_IP
    pub ip: Option<usize>,
    /// PERF_SAMPLE_TID: pid, then tid.
    pub tid: Option<usize>,
    /// PERF_SAMPLE_ADDR
    pub addr: Option<usize>,
    /// PERF_SAMPLE_ID (the id is also first with PERF_SAMPLE_IDENTIFIER)
    pub id: Option<usize>,
    /// PERF_SAMPLE_STREAM_ID
    pub stream_id: Option<usize>,
    /// PERF_SAMPLE_CPU: cpu, then a reserved u32.
    pub cpu: Option<usize>,
    /// PERF_SAMPLE_PERIOD
    pub period: Option<usize>,
    /// The size of the fixed part: where PERF_SAMPLE_READ or what follows
    /// it starts.
    pub end: usize,
}

impl SampleLayout {
    /// The layout of records of an event opened with `attr`.
    pub fn of(attr: &EventAttr) -> Self {
        let f = attr.sample_type;
        let has = |bit| usize::from(f.contains(bit)) * 8;
        // The fixed fields in the order the kernel writes them
        // (perf_output_sample), each at the sum of the sizes before it.
        let mut end = 0;
        let mut place = |bit| {
            f.contains(bit).then(|| {
                end += 8;
                end - 8
            })
        };
        place(SampleFormat::IDENTIFIER);
        let ip = place(SampleFormat::IP);
        let tid = place(SampleFormat::TID);
        let sample_time = place(SampleFormat::TIME);
        let addr = place(SampleFormat::ADDR);
        let id = place(SampleFormat::ID);
        let stream_id = place(SampleFormat::STREAM_ID);
        let cpu = place(SampleFormat::CPU);
        let period = place(SampleFormat::PERIOD);
        let sample_fields = SampleFields {
            ip,
            tid,
            addr,
            id,
            stream_id,
            cpu,
            period,
            end,
        };
        let sample_id = if f.contains(SampleFormat::IDENTIFIER) {
            Some(0)
        } else {
            id
        };
        if !attr.sample_id_all() {
            return Self {
                sample_id,
                sample_time,
                sample_fields,
                ..Self::default()
            };
        }
        let trailer = f.sample_id_size();
        let trailer_id = if f.contains(SampleFormat::IDENTIFIER) {
            Some(trailer - 8)
        } else {
            f.contains(SampleFormat::ID)
                .then(|| has(SampleFormat::TID) + has(SampleFormat::TIME))
        };
        let trailer_time = f
            .contains(SampleFormat::TIME)
            .then(|| has(SampleFormat::TID));
        Self {
            sample_id,
            sample_time,
            trailer,
            trailer_id,
            trailer_time,
            sample_fields,
        }
    }

    /// Where the id is in a sample, and how far from the end of other
    /// records: two events whose records keep it at different places
    /// cannot share a file without PERF_SAMPLE_IDENTIFIER, as perf's
    /// `evlist__valid_sample_type` says.
    fn id_places(&self, f: SampleFormat) -> (Option<usize>, Option<usize>) {
        let from_end = if f.contains(SampleFormat::IDENTIFIER) {
            Some(8)
        } else {
            f.contains(SampleFormat::ID).then(|| {
                8 + usize::from(f.contains(SampleFormat::STREAM_ID)) * 8
                    + usize::from(f.contains(SampleFormat::CPU)) * 8
            })
        };
        (self.sample_id, from_end)
    }
}

impl std::ops::BitOr for SampleFormat {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

/// The one-bit fields of `perf_event_attr` at offset 40, as a mask. Ours:
/// perf-event-open-sys has these only as bindgen bitfield setters, no masks.
pub mod flags {
    /// disabled: start disabled.
    pub const DISABLED: u64 = 1 << 0;
    /// inherit: children inherit it.
    pub const INHERIT: u64 = 1 << 1;
    /// exclude_kernel
    pub const EXCLUDE_KERNEL: u64 = 1 << 5;
    /// exclude_hv
    pub const EXCLUDE_HV: u64 = 1 << 6;
    /// mmap: PERF_RECORD_MMAP side-band.
    pub const MMAP: u64 = 1 << 8;
    /// comm: PERF_RECORD_COMM side-band.
    pub const COMM: u64 = 1 << 9;
    /// freq: sample_freq instead of sample_period.
    pub const FREQ: u64 = 1 << 10;
    /// task: PERF_RECORD_FORK/EXIT side-band.
    pub const TASK: u64 = 1 << 13;
    /// watermark: wake up by bytes, not events.
    pub const WATERMARK: u64 = 1 << 14;
    /// mmap_data: PERF_RECORD_MMAP(2) for data mappings too.
    pub const MMAP_DATA: u64 = 1 << 17;
    /// sample_id_all: sample_id on every record.
    pub const SAMPLE_ID_ALL: u64 = 1 << 18;
    /// exclude_callchain_kernel: no kernel frames in PERF_SAMPLE_CALLCHAIN.
    pub const EXCLUDE_CALLCHAIN_KERNEL: u64 = 1 << 21;
    /// exclude_callchain_user: no user frames in PERF_SAMPLE_CALLCHAIN (a
    /// reader that unwinds the PERF_SAMPLE_STACK_USER copy itself).
    pub const EXCLUDE_CALLCHAIN_USER: u64 = 1 << 22;
    /// mmap2: PERF_RECORD_MMAP2 side-band.
    pub const MMAP2: u64 = 1 << 23;
    /// comm_exec: mark COMM records from exec.
    pub const COMM_EXEC: u64 = 1 << 24;
    /// use_clockid
    pub const USE_CLOCKID: u64 = 1 << 25;
    /// context_switch: PERF_RECORD_SWITCH(_CPU_WIDE) side-band.
    pub const CONTEXT_SWITCH: u64 = 1 << 26;
    /// namespaces: PERF_RECORD_NAMESPACES side-band.
    pub const NAMESPACES: u64 = 1 << 28;
    /// cgroup: PERF_RECORD_CGROUP side-band.
    pub const CGROUP: u64 = 1 << 32;
    /// build_id: PERF_RECORD_MMAP2 carries the mapped file's build-id
    /// (PERF_RECORD_MISC_MMAP_BUILD_ID) instead of its device and inode.
    pub const BUILD_ID: u64 = 1 << 34;
    /// tracer_scope, added by the perfns kernel series: the event sees the
    /// tasks of the opener's tracer namespace and its descendants. Bit 40,
    /// after mainline's defer_callchain (38) and defer_output (39).
    pub const TRACER_SCOPE: u64 = 1 << 40;
    /// tracer_namespaces, added by the perfns kernel series:
    /// PERF_RECORD_TRACER_NAMESPACES side-band.
    pub const TRACER_NAMESPACES: u64 = 1 << 41;
    /// Where the series had [`TRACER_SCOPE`] and [`TRACER_NAMESPACES`]
    /// before it moved past mainline's bits: the attrs of the first
    /// tracer-scope recordings carry them (mainline's defer_callchain and
    /// defer_output, which perfns never sets).
    pub const SERIES_V1_BITS: u64 = (1 << 38) | (1 << 39);
}

/// `enum perf_type_id` values perfns uses.
pub mod kind {
    /// PERF_TYPE_HARDWARE
    pub const HARDWARE: u32 = super::sys::PERF_TYPE_HARDWARE;
    /// PERF_TYPE_SOFTWARE
    pub const SOFTWARE: u32 = super::sys::PERF_TYPE_SOFTWARE;
    /// PERF_TYPE_TRACEPOINT: config is the tracepoint id.
    pub const TRACEPOINT: u32 = super::sys::PERF_TYPE_TRACEPOINT;
}

/// `enum perf_sw_ids` values perfns uses.
pub mod sw {
    /// PERF_COUNT_SW_CPU_CLOCK
    pub const CPU_CLOCK: u64 = super::sys::PERF_COUNT_SW_CPU_CLOCK as u64;
    /// PERF_COUNT_SW_TASK_CLOCK
    pub const TASK_CLOCK: u64 = super::sys::PERF_COUNT_SW_TASK_CLOCK as u64;
    /// PERF_COUNT_SW_PAGE_FAULTS
    pub const PAGE_FAULTS: u64 = super::sys::PERF_COUNT_SW_PAGE_FAULTS as u64;
    /// PERF_COUNT_SW_CONTEXT_SWITCHES
    pub const CONTEXT_SWITCHES: u64 = super::sys::PERF_COUNT_SW_CONTEXT_SWITCHES as u64;
    /// PERF_COUNT_SW_DUMMY: no samples, side-band only.
    pub const DUMMY: u64 = super::sys::PERF_COUNT_SW_DUMMY as u64;
}

/// `read_format` bits.
pub mod read_format {
    /// PERF_FORMAT_TOTAL_TIME_ENABLED
    pub const TOTAL_TIME_ENABLED: u64 = super::sys::PERF_FORMAT_TOTAL_TIME_ENABLED as u64;
    /// PERF_FORMAT_TOTAL_TIME_RUNNING
    pub const TOTAL_TIME_RUNNING: u64 = super::sys::PERF_FORMAT_TOTAL_TIME_RUNNING as u64;
    /// PERF_FORMAT_ID
    pub const ID: u64 = super::sys::PERF_FORMAT_ID as u64;
    /// PERF_FORMAT_GROUP
    pub const GROUP: u64 = super::sys::PERF_FORMAT_GROUP as u64;
    /// PERF_FORMAT_LOST
    pub const LOST: u64 = super::sys::PERF_FORMAT_LOST as u64;
}

/// PERF_ATTR_SIZE_VER0: the smallest attr any kernel or file has.
pub const ATTR_SIZE_VER0: usize = sys::PERF_ATTR_SIZE_VER0 as usize;
/// PERF_ATTR_SIZE_VER7 (up to sig_data): what perf 6.1, Debian 12's, reads.
pub const ATTR_SIZE_VER7: usize = sys::PERF_ATTR_SIZE_VER7 as usize;
/// PERF_ATTR_SIZE_VER8 (config3): the 6.12 kernel's size.
pub const ATTR_SIZE_VER8: usize = sys::PERF_ATTR_SIZE_VER8 as usize;

/// A `perf_event_attr`, field by field.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventAttr {
    /// type: PERF_TYPE_*.
    pub kind: u32,
    /// config: which event of that type.
    pub config: u64,
    /// sample_period, or sample_freq when [`flags::FREQ`] is set.
    pub sample_period: u64,
    /// sample_type
    pub sample_type: SampleFormat,
    /// read_format
    pub read_format: u64,
    /// The one-bit fields, as a mask of [`flags`].
    pub flags: u64,
    /// wakeup_events, or wakeup_watermark with [`flags::WATERMARK`].
    pub wakeup: u32,
    /// bp_type
    pub bp_type: u32,
    /// config1
    pub config1: u64,
    /// config2
    pub config2: u64,
    /// branch_sample_type
    pub branch_sample_type: u64,
    /// sample_regs_user
    pub sample_regs_user: u64,
    /// sample_stack_user
    pub sample_stack_user: u32,
    /// clockid
    pub clockid: i32,
    /// sample_regs_intr
    pub sample_regs_intr: u64,
    /// aux_watermark
    pub aux_watermark: u32,
    /// sample_max_stack
    pub sample_max_stack: u16,
    /// aux_sample_size
    pub aux_sample_size: u32,
    /// sig_data
    pub sig_data: u64,
    /// config3
    pub config3: u64,
}

impl EventAttr {
    /// Whether non-sample records carry a sample_id trailer.
    pub fn sample_id_all(&self) -> bool {
        self.flags & flags::SAMPLE_ID_ALL != 0
    }

    /// Whether samples read the event's whole group (PERF_FORMAT_GROUP):
    /// their `struct read_format` then starts with its number of values.
    pub fn reads_group(&self) -> bool {
        self.read_format & read_format::GROUP != 0
    }

    /// The size of a sample's `struct read_format` holding `values` values
    /// (one unless [`Self::reads_group`]), or `None` if that overflows.
    ///
    /// ```c
    /// struct read_format {
    ///     { u64 value; { u64 time_enabled; } { u64 time_running; }
    ///       { u64 id; } { u64 lost; } } && !PERF_FORMAT_GROUP
    ///     { u64 nr; { u64 time_enabled; } { u64 time_running; }
    ///       { u64 value; { u64 id; } { u64 lost; } } cntr[nr]; } && PERF_FORMAT_GROUP
    /// };
    /// ```
    pub fn read_format_size(&self, values: u64) -> Option<usize> {
        let rf = self.read_format;
        let bit = |b: u64| usize::from(rf & b != 0) * 8;
        let per_value = 8 + bit(read_format::ID) + bit(read_format::LOST);
        let times = bit(read_format::TOTAL_TIME_ENABLED) + bit(read_format::TOTAL_TIME_RUNNING);
        let nr = if self.reads_group() { 8 } else { 0 };
        usize::try_from(values)
            .ok()?
            .checked_mul(per_value)?
            .checked_add(nr + times)
    }

    /// Decodes an attr from `bytes`, whose length is the attr's own `size`
    /// (or more). Fields past the size are zero, as the kernel treats them.
    pub fn from_bytes<O: ByteOrder>(bytes: &[u8]) -> Result<Self, ParseError> {
        if bytes.len() < ATTR_SIZE_VER0 {
            return Err(ParseError::Attr(format!(
                "{} bytes, smaller than the oldest perf_event_attr ({ATTR_SIZE_VER0})",
                bytes.len()
            )));
        }
        let mut padded = [0u8; ATTR_SIZE_VER8];
        let n = bytes.len().min(ATTR_SIZE_VER8);
        padded[..n].copy_from_slice(&bytes[..n]);
        let b = &padded;
        let u64_at = |o: usize| O::read_u64(&b[o..o + 8]);
        let u32_at = |o: usize| O::read_u32(&b[o..o + 4]);
        Ok(Self {
            kind: u32_at(0),
            config: u64_at(8),
            sample_period: u64_at(16),
            sample_type: SampleFormat(u64_at(24)),
            read_format: u64_at(32),
            flags: u64_at(40),
            wakeup: u32_at(48),
            bp_type: u32_at(52),
            config1: u64_at(56),
            config2: u64_at(64),
            branch_sample_type: u64_at(72),
            sample_regs_user: u64_at(80),
            sample_stack_user: u32_at(88),
            clockid: O::read_i32(&b[92..96]),
            sample_regs_intr: u64_at(96),
            aux_watermark: u32_at(104),
            sample_max_stack: O::read_u16(&b[108..110]),
            aux_sample_size: u32_at(112),
            sig_data: u64_at(120),
            config3: u64_at(128),
        })
    }

    /// The size this attr is written with: PERF_ATTR_SIZE_VER7 unless config3
    /// is used, so that perf 6.1 (Debian 12's) can read the file.
    pub fn encoded_size(&self) -> usize {
        if self.config3 != 0 {
            ATTR_SIZE_VER8
        } else {
            ATTR_SIZE_VER7
        }
    }

    /// Encodes the attr in native byte order, [`Self::encoded_size`] bytes,
    /// with its `size` field set.
    pub fn to_ne_bytes(&self) -> Vec<u8> {
        let size = self.encoded_size();
        let mut b = vec![0u8; ATTR_SIZE_VER8];
        let mut put = |o: usize, v: &[u8]| b[o..o + v.len()].copy_from_slice(v);
        put(0, &self.kind.to_ne_bytes());
        put(4, &(size as u32).to_ne_bytes());
        put(8, &self.config.to_ne_bytes());
        put(16, &self.sample_period.to_ne_bytes());
        put(24, &self.sample_type.0.to_ne_bytes());
        put(32, &self.read_format.to_ne_bytes());
        put(40, &self.flags.to_ne_bytes());
        put(48, &self.wakeup.to_ne_bytes());
        put(52, &self.bp_type.to_ne_bytes());
        put(56, &self.config1.to_ne_bytes());
        put(64, &self.config2.to_ne_bytes());
        put(72, &self.branch_sample_type.to_ne_bytes());
        put(80, &self.sample_regs_user.to_ne_bytes());
        put(88, &self.sample_stack_user.to_ne_bytes());
        put(92, &self.clockid.to_ne_bytes());
        put(96, &self.sample_regs_intr.to_ne_bytes());
        put(104, &self.aux_watermark.to_ne_bytes());
        put(108, &self.sample_max_stack.to_ne_bytes());
        put(112, &self.aux_sample_size.to_ne_bytes());
        put(120, &self.sig_data.to_ne_bytes());
        put(128, &self.config3.to_ne_bytes());
        b.truncate(size);
        b
    }
}

/// One event of a recording: its attr, the kernel ids of its per-CPU
/// instances, and its name (e.g. `sched:sched_switch`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventDesc {
    /// The attr it was opened with.
    pub attr: EventAttr,
    /// The ids the kernel gave its instances (PERF_EVENT_IOC_ID).
    pub ids: Vec<u64>,
    /// Its name as perf spells it.
    pub name: String,
}

/// The events of a recording, and which one a record belongs to.
///
/// Like perf, this finds a record's event from its id: at the start of a
/// sample and at the end of other records when every attr has
/// PERF_SAMPLE_IDENTIFIER, otherwise at the position PERF_SAMPLE_ID has in
/// the (shared) sample layout. With a single event no id is needed.
#[derive(Debug, Clone, Default)]
pub struct AttrSet {
    events: Vec<EventDesc>,
    /// Each event's layout, in the order of `events`.
    layouts: Vec<SampleLayout>,
    by_id: IdIndex,
}

/// The event of each kernel id. The kernel numbers the instances of a
/// recording's events one after the other, so a table indexed by id less
/// the first finds an event with one load; ids scattered wider fall back
/// to a hash map.
#[derive(Debug, Clone)]
enum IdIndex {
    Dense { first: u64, events: Vec<u32> },
    Sparse(HashMap<u64, usize>),
}

impl Default for IdIndex {
    fn default() -> Self {
        Self::Sparse(HashMap::new())
    }
}

impl IdIndex {
    /// No event, in [`IdIndex::Dense`].
    const NONE: u32 = u32::MAX;

    fn new(by_id: HashMap<u64, usize>) -> Self {
        let (Some(&first), Some(&last)) = (by_id.keys().min(), by_id.keys().max()) else {
            return Self::Sparse(by_id);
        };
        let span = last - first;
        // Dense when the table is no more than a few times the ids' count.
        if span > 4 * by_id.len() as u64 + 64 || by_id.values().any(|&i| i >= Self::NONE as usize) {
            return Self::Sparse(by_id);
        }
        let mut events = vec![Self::NONE; span as usize + 1];
        for (id, i) in by_id {
            events[(id - first) as usize] = i as u32;
        }
        Self::Dense { first, events }
    }

    fn get(&self, id: u64) -> Option<usize> {
        match self {
            Self::Dense { first, events } => {
                let i = *events.get(usize::try_from(id.checked_sub(*first)?).ok()?)?;
                (i != Self::NONE).then_some(i as usize)
            }
            Self::Sparse(map) => map.get(&id).copied(),
        }
    }
}

impl AttrSet {
    /// Builds the set. Fails when ids collide or when several events cannot
    /// be told apart (no id in their samples).
    pub fn new(events: Vec<EventDesc>) -> Result<Self, ParseError> {
        let mut by_id = HashMap::new();
        for (i, e) in events.iter().enumerate() {
            for &id in &e.ids {
                if by_id.insert(id, i).is_some_and(|j| j != i) {
                    return Err(ParseError::Attr(format!(
                        "event id {id} belongs to two events"
                    )));
                }
            }
        }
        let layouts: Vec<SampleLayout> = events.iter().map(|e| SampleLayout::of(&e.attr)).collect();
        if events.len() > 1 {
            for e in &events {
                let f = e.attr.sample_type;
                if !f.contains(SampleFormat::IDENTIFIER) && !f.contains(SampleFormat::ID) {
                    return Err(ParseError::Attr(format!(
                        "event {:?} has no PERF_SAMPLE_ID or IDENTIFIER, so its records cannot be told apart",
                        e.name
                    )));
                }
            }
            // A record's event is found by the id at the first event's
            // place for it: every event must keep it there.
            let places = |i: usize| layouts[i].id_places(events[i].attr.sample_type);
            if let Some(i) = (1..events.len()).find(|&i| places(i) != places(0)) {
                let describe = |i: usize| {
                    let (sample, from_end) = places(i);
                    format!(
                        "{:?} (sample_type {:#x}: id at byte {} of a sample, {} bytes before the end of other records)",
                        events[i].name,
                        events[i].attr.sample_type.0,
                        sample.unwrap_or_default(),
                        from_end.unwrap_or_default()
                    )
                };
                return Err(ParseError::Attr(format!(
                    "events {} and {} keep their id at different places and not every event has PERF_SAMPLE_IDENTIFIER, so their records cannot be told apart (perf refuses such a file too)",
                    describe(0),
                    describe(i)
                )));
            }
        }
        Ok(Self {
            events,
            layouts,
            by_id: IdIndex::new(by_id),
        })
    }

    /// The events, in file order.
    pub fn events(&self) -> &[EventDesc] {
        &self.events
    }

    /// The layout of the records of event `index` ([`Self::events`]).
    pub fn layout(&self, index: usize) -> &SampleLayout {
        &self.layouts[index]
    }

    /// The index of the event with kernel id `id`.
    pub fn index_of_id(&self, id: u64) -> Option<usize> {
        self.by_id.get(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use byteorder::NativeEndian;

    #[test]
    fn attr_round_trips_through_bytes() {
        let a = EventAttr {
            kind: kind::TRACEPOINT,
            config: 321,
            sample_period: 1,
            sample_type: SampleFormat::IDENTIFIER | SampleFormat::TID | SampleFormat::RAW,
            flags: flags::SAMPLE_ID_ALL | flags::DISABLED,
            clockid: 1,
            sig_data: 7,
            ..Default::default()
        };
        let b = a.to_ne_bytes();
        assert_eq!(b.len(), ATTR_SIZE_VER7);
        assert_eq!(u32::from_ne_bytes(b[4..8].try_into().unwrap()), 128);
        assert_eq!(EventAttr::from_bytes::<NativeEndian>(&b).unwrap(), a);
    }

    #[test]
    fn attr_with_config3_uses_ver8() {
        let a = EventAttr {
            config3: 1,
            ..Default::default()
        };
        assert_eq!(a.to_ne_bytes().len(), ATTR_SIZE_VER8);
    }

    #[test]
    fn a_group_read_format_counts_its_values() {
        let rf = read_format::ID | read_format::TOTAL_TIME_ENABLED;
        let single = EventAttr {
            read_format: rf,
            ..Default::default()
        };
        assert_eq!(single.read_format_size(1), Some(8 + 16));
        let group = EventAttr {
            read_format: rf | read_format::GROUP,
            ..Default::default()
        };
        assert_eq!(group.read_format_size(3), Some(8 + 8 + 3 * 16));
        assert_eq!(group.read_format_size(u64::MAX), None);
    }

    #[test]
    fn the_event_of_an_id_is_found_in_both_kinds_of_index() {
        let event = |ids: Vec<u64>| EventDesc {
            attr: EventAttr {
                sample_type: SampleFormat::IDENTIFIER,
                ..Default::default()
            },
            ids,
            name: String::new(),
        };
        // perf record -a on 2 CPUs: ids one after the other.
        let dense = AttrSet::new(vec![event(vec![40, 41]), event(vec![42, 43])]).unwrap();
        assert!(matches!(dense.by_id, IdIndex::Dense { first: 40, .. }));
        // Ids far apart (events opened at different times, or a hand-made
        // file).
        let sparse = AttrSet::new(vec![event(vec![7, 1 << 40]), event(vec![u64::MAX])]).unwrap();
        assert!(matches!(sparse.by_id, IdIndex::Sparse(_)));
        for (set, found) in [
            (&dense, vec![(40, 0), (41, 0), (42, 1), (43, 1)]),
            (&sparse, vec![(7, 0), (1 << 40, 0), (u64::MAX, 1)]),
        ] {
            for (id, index) in found {
                assert_eq!(set.index_of_id(id), Some(index), "{id}");
            }
            for id in [0, 39, 44, 8, (1 << 40) - 1, u64::MAX - 1] {
                assert_eq!(set.index_of_id(id), None, "{id}");
            }
        }
    }

    #[test]
    fn a_layout_places_id_and_time_as_the_kernel_writes_them() {
        let attr = |sample_type, flags| EventAttr {
            sample_type,
            flags,
            ..Default::default()
        };
        // perfns record's tracepoints: identifier, tid, time, cpu, raw.
        let f = SampleFormat::IDENTIFIER
            | SampleFormat::TID
            | SampleFormat::TIME
            | SampleFormat::CPU
            | SampleFormat::RAW;
        assert_eq!(
            SampleLayout::of(&attr(f, flags::SAMPLE_ID_ALL)),
            SampleLayout {
                sample_id: Some(0),
                sample_time: Some(16),
                trailer: 32,
                trailer_id: Some(24),
                trailer_time: Some(8),
                sample_fields: SampleFields {
                    tid: Some(8),
                    cpu: Some(24),
                    end: 32,
                    ..SampleFields::default()
                },
            }
        );
        // perf record -e cpu-clock without IDENTIFIER: ip, tid, time, id.
        let f = SampleFormat::IP
            | SampleFormat::TID
            | SampleFormat::TIME
            | SampleFormat::ID
            | SampleFormat::PERIOD;
        assert_eq!(
            SampleLayout::of(&attr(f, 0)),
            SampleLayout {
                sample_id: Some(24),
                sample_time: Some(16),
                trailer: 0,
                trailer_id: None,
                trailer_time: None,
                sample_fields: SampleFields {
                    ip: Some(0),
                    tid: Some(8),
                    id: Some(24),
                    period: Some(32),
                    end: 40,
                    ..SampleFields::default()
                },
            }
        );
    }

    #[test]
    fn short_attr_is_an_error() {
        let err = EventAttr::from_bytes::<NativeEndian>(&[0; 10]).unwrap_err();
        assert!(err.to_string().contains("10 bytes"), "{err}");
    }
}
