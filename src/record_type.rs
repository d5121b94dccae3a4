//! `enum perf_event_type` and perf's own record types, as an open newtype:
//! what a record is. Below everything that reads records, errors included
//! ([`crate::error::ParseError`] names the record type a field failed in);
//! re-exported as [`crate::record::RecordType`].

use std::fmt;

use perf_event_open_sys::bindings as sys;

/// A perf record type (`enum perf_event_type` and perf's user-space types).
///
/// An open newtype, not an enum, so that unknown types survive a round trip.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordType(pub u32);

impl RecordType {
    /// PERF_RECORD_MMAP
    pub const MMAP: Self = Self(sys::PERF_RECORD_MMAP);
    /// PERF_RECORD_LOST
    pub const LOST: Self = Self(sys::PERF_RECORD_LOST);
    /// PERF_RECORD_COMM
    pub const COMM: Self = Self(sys::PERF_RECORD_COMM);
    /// PERF_RECORD_EXIT
    pub const EXIT: Self = Self(sys::PERF_RECORD_EXIT);
    /// PERF_RECORD_THROTTLE
    pub const THROTTLE: Self = Self(sys::PERF_RECORD_THROTTLE);
    /// PERF_RECORD_UNTHROTTLE
    pub const UNTHROTTLE: Self = Self(sys::PERF_RECORD_UNTHROTTLE);
    /// PERF_RECORD_FORK
    pub const FORK: Self = Self(sys::PERF_RECORD_FORK);
    /// PERF_RECORD_READ
    pub const READ: Self = Self(sys::PERF_RECORD_READ);
    /// PERF_RECORD_SAMPLE
    pub const SAMPLE: Self = Self(sys::PERF_RECORD_SAMPLE);
    /// PERF_RECORD_MMAP2
    pub const MMAP2: Self = Self(sys::PERF_RECORD_MMAP2);
    /// PERF_RECORD_AUX
    pub const AUX: Self = Self(sys::PERF_RECORD_AUX);
    /// PERF_RECORD_ITRACE_START
    pub const ITRACE_START: Self = Self(sys::PERF_RECORD_ITRACE_START);
    /// PERF_RECORD_LOST_SAMPLES
    pub const LOST_SAMPLES: Self = Self(sys::PERF_RECORD_LOST_SAMPLES);
    /// PERF_RECORD_SWITCH
    pub const SWITCH: Self = Self(sys::PERF_RECORD_SWITCH);
    /// PERF_RECORD_SWITCH_CPU_WIDE
    pub const SWITCH_CPU_WIDE: Self = Self(sys::PERF_RECORD_SWITCH_CPU_WIDE);
    /// PERF_RECORD_NAMESPACES
    pub const NAMESPACES: Self = Self(sys::PERF_RECORD_NAMESPACES);
    /// PERF_RECORD_KSYMBOL
    pub const KSYMBOL: Self = Self(sys::PERF_RECORD_KSYMBOL);
    /// PERF_RECORD_BPF_EVENT
    pub const BPF_EVENT: Self = Self(sys::PERF_RECORD_BPF_EVENT);
    /// PERF_RECORD_CGROUP
    pub const CGROUP: Self = Self(sys::PERF_RECORD_CGROUP);
    /// PERF_RECORD_TEXT_POKE
    pub const TEXT_POKE: Self = Self(sys::PERF_RECORD_TEXT_POKE);
    /// PERF_RECORD_AUX_OUTPUT_HW_ID
    pub const AUX_OUTPUT_HW_ID: Self = Self(sys::PERF_RECORD_AUX_OUTPUT_HW_ID);
    /// PERF_RECORD_CALLCHAIN_DEFERRED, mainline's type 22 (Linux 6.19): a
    /// user callchain captured on the way back to user space. perfns asks
    /// for none and leaves it undecoded. The perfns series' first
    /// TRACER_NAMESPACES had this number; recordings of it are told apart
    /// by their perfns extension (see [`crate::perf_data::PerfFileReader`]).
    pub const CALLCHAIN_DEFERRED: Self = Self(sys::PERF_RECORD_CALLCHAIN_DEFERRED);
    /// PERF_RECORD_TRACER_NAMESPACES, added by the perfns kernel series: a
    /// task's namespaces, its tracer-namespace ancestry (inodes and 64-bit
    /// ids) and its pid at each level. Ours, as the series' own: the first
    /// number after mainline's last type, CALLCHAIN_DEFERRED.
    pub const TRACER_NAMESPACES: Self = Self(23);

    // The rest are ours: perf's user-space record types
    // (tools/lib/perf/include/perf/event.h) are not in the kernel's uapi
    // header that perf-event-open-sys binds.

    /// First type that perf's user-space tools use for their own records.
    pub const USER_TYPE_START: Self = Self(64);
    /// PERF_RECORD_HEADER_ATTR
    pub const HEADER_ATTR: Self = Self(64);
    /// PERF_RECORD_HEADER_EVENT_TYPE (obsolete since 2012, still known).
    pub const HEADER_EVENT_TYPE: Self = Self(65);
    /// PERF_RECORD_HEADER_TRACING_DATA: in a pipe-mode file, its `size`
    /// bytes of tracing data follow the record, outside its `size`.
    pub const HEADER_TRACING_DATA: Self = Self(66);
    /// PERF_RECORD_HEADER_BUILD_ID
    pub const HEADER_BUILD_ID: Self = Self(67);
    /// PERF_RECORD_FINISHED_ROUND: every record before it is older than every
    /// record after it, across all CPUs.
    pub const FINISHED_ROUND: Self = Self(68);
    /// PERF_RECORD_ID_INDEX
    pub const ID_INDEX: Self = Self(69);
    /// PERF_RECORD_AUXTRACE_INFO
    pub const AUXTRACE_INFO: Self = Self(70);
    /// PERF_RECORD_AUXTRACE: its `size` bytes of AUX area data (Intel PT,
    /// ARM SPE...) follow the record, outside its header's size.
    pub const AUXTRACE: Self = Self(71);
    /// PERF_RECORD_AUXTRACE_ERROR
    pub const AUXTRACE_ERROR: Self = Self(72);
    /// PERF_RECORD_THREAD_MAP
    pub const THREAD_MAP: Self = Self(73);
    /// PERF_RECORD_CPU_MAP
    pub const CPU_MAP: Self = Self(74);
    /// PERF_RECORD_STAT_CONFIG (`perf stat record`)
    pub const STAT_CONFIG: Self = Self(75);
    /// PERF_RECORD_STAT (`perf stat record`): a counter's value.
    pub const STAT: Self = Self(76);
    /// PERF_RECORD_STAT_ROUND (`perf stat record`)
    pub const STAT_ROUND: Self = Self(77);
    /// PERF_RECORD_EVENT_UPDATE: an event's name, unit, scale or cpus.
    pub const EVENT_UPDATE: Self = Self(78);
    /// PERF_RECORD_TIME_CONV
    pub const TIME_CONV: Self = Self(79);
    /// PERF_RECORD_HEADER_FEATURE
    pub const HEADER_FEATURE: Self = Self(80);
    /// PERF_RECORD_COMPRESSED: records compressed with zstd (`perf
    /// record -z`), one stream across all of them.
    pub const COMPRESSED: Self = Self(81);
    /// PERF_RECORD_FINISHED_INIT
    pub const FINISHED_INIT: Self = Self(82);
    /// PERF_RECORD_COMPRESSED2 (perf 6.15): COMPRESSED with a `data_size`
    /// field and the record padded to 8 bytes.
    pub const COMPRESSED2: Self = Self(83);

    /// Whether the kernel wrote this record (as opposed to perf's tools).
    pub fn is_kernel(self) -> bool {
        self.0 < Self::USER_TYPE_START.0
    }

    /// The name perf uses for this type, or `None` for an unknown one.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Self::MMAP => "MMAP",
            Self::LOST => "LOST",
            Self::COMM => "COMM",
            Self::EXIT => "EXIT",
            Self::THROTTLE => "THROTTLE",
            Self::UNTHROTTLE => "UNTHROTTLE",
            Self::FORK => "FORK",
            Self::READ => "READ",
            Self::SAMPLE => "SAMPLE",
            Self::MMAP2 => "MMAP2",
            Self::AUX => "AUX",
            Self::ITRACE_START => "ITRACE_START",
            Self::LOST_SAMPLES => "LOST_SAMPLES",
            Self::SWITCH => "SWITCH",
            Self::SWITCH_CPU_WIDE => "SWITCH_CPU_WIDE",
            Self::NAMESPACES => "NAMESPACES",
            Self::KSYMBOL => "KSYMBOL",
            Self::BPF_EVENT => "BPF_EVENT",
            Self::CGROUP => "CGROUP",
            Self::TEXT_POKE => "TEXT_POKE",
            Self::AUX_OUTPUT_HW_ID => "AUX_OUTPUT_HW_ID",
            Self::CALLCHAIN_DEFERRED => "CALLCHAIN_DEFERRED",
            Self::TRACER_NAMESPACES => "TRACER_NAMESPACES",
            Self::HEADER_ATTR => "ATTR",
            Self::HEADER_EVENT_TYPE => "EVENT_TYPE",
            Self::HEADER_TRACING_DATA => "TRACING_DATA",
            Self::HEADER_BUILD_ID => "BUILD_ID",
            Self::FINISHED_ROUND => "FINISHED_ROUND",
            Self::ID_INDEX => "ID_INDEX",
            Self::AUXTRACE_INFO => "AUXTRACE_INFO",
            Self::AUXTRACE => "AUXTRACE",
            Self::AUXTRACE_ERROR => "AUXTRACE_ERROR",
            Self::THREAD_MAP => "THREAD_MAP",
            Self::CPU_MAP => "CPU_MAP",
            Self::STAT_CONFIG => "STAT_CONFIG",
            Self::STAT => "STAT",
            Self::STAT_ROUND => "STAT_ROUND",
            Self::EVENT_UPDATE => "EVENT_UPDATE",
            Self::TIME_CONV => "TIME_CONV",
            Self::HEADER_FEATURE => "FEATURE",
            Self::COMPRESSED => "COMPRESSED",
            Self::FINISHED_INIT => "FINISHED_INIT",
            Self::COMPRESSED2 => "COMPRESSED2",
            _ => return None,
        })
    }
}

impl fmt::Debug for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name}"),
            None => write!(f, "RecordType({})", self.0),
        }
    }
}
