//! Live sessions: the [`Recorder`] without a file. Its per-CPU ring
//! buffers are drained as for `perfns record` (the same [`Recorder::drain`]:
//! losses counted, new containers learned from the side-band, CPUs going
//! offline followed), but the records go to a consumer, in time order,
//! instead of to a recording. `perfns top` feeds them to the report's
//! analysis and prints a frame per interval; `perfns trace` prints a line
//! per system call.
//!
//! # The API
//!
//! ```no_run
//! # fn main() -> Result<(), perfns_record::session::RecordError> {
//! use std::time::Duration;
//! use perfns_record::session::live::{LiveConfig, LiveSession, Wake};
//! use perfns_record::session::SessionConfig;
//!
//! let mut config = LiveConfig::new(SessionConfig::new("-"), Duration::from_secs(1));
//! config.session.groups = "syscalls".parse().expect("a group");
//! let mut live = LiveSession::start(config)?;
//! // live.events() names each event index; live.features() holds the
//! // tracepoint formats (tracing data) and the containers (perfns meta).
//! let mut calls = 0u64;
//! loop {
//!     match live.next(&[], &mut |_event, _record| calls += 1)? {
//!         Wake::Interval(stats) => {
//!             println!("{} records in {} ns", stats.records, stats.end_ns - stats.start_ns);
//!             break;
//!         }
//!         Wake::Ready(_) => {} // one of `extra` is readable: keys, signals
//!     }
//! }
//! live.finish(&mut |_, _| {})?;
//! # Ok(()) }
//! ```
//!
//! - [`LiveSession::start`] chooses the scope as `perfns record` does
//!   (`--scope auto|system|tracer`), sizes the buffers for it, opens the
//!   events and enables them. The tasks alive then come first, as
//!   synthesized COMM and NAMESPACES records (the statedump), and in
//!   [`LiveSession::meta`].
//! - [`LiveSession::next`] drains every ~100 ms ([`DRAIN_INTERVAL`], and at
//!   once while records come fast), hands each record to `on_record` with
//!   the index of its event in [`LiveSession::events`], and returns
//!   [`Wake::Interval`] once the interval has passed, or [`Wake::Ready`]
//!   as soon as one of the caller's file descriptors is readable (the
//!   interval goes on at the next call).
//! - Records come in time order. Each CPU's ring is in order, but the
//!   rings are read one after the other: a record may land in a CPU's ring
//!   after that ring was read with a time older than records already read
//!   from another. As perf's ordered events do at each FINISHED_ROUND, a
//!   record is handed on only once a whole pass has come after the pass
//!   that read it: at the end of pass N, the records up to the newest time
//!   of pass N-1. An interval covers `(start_ns, end_ns]` of perf time
//!   ([`IntervalStats`]): exactly the records handed on in it.
//! - Memory: the records of the last two passes at most (bounded by the
//!   ring buffers), the tasks alive (their namespaces) and the containers
//!   there are (one whose tasks have all exited is forgotten a few
//!   intervals later, once the analysis has shown their end); never a
//!   record more. A consumer that keeps figures per interval and resets
//!   them (as the report's `Analysis::interval` does) stays O(tasks +
//!   containers) too.
//! - Losses: [`IntervalStats::lost`] counts the events the kernel dropped
//!   in the interval (PERF_RECORD_LOST and LOST_SAMPLES), the records are
//!   handed on too, and [`LiveSession::lost_fix`] says what to do about
//!   it, in `perfns record`'s words. [`LiveSession::finish`] hands on, as
//!   PERF_RECORD_LOST, the losses the kernel had not reported yet, as
//!   `perfns record` writes them at its end.
//! - Containers: a consumer that names or selects tasks by container takes
//!   the metadata anew as it changes: [`LiveSession::next_to`] gives it to
//!   a [`Consumer`] before the records drained with the change.
//! - `-p`: with [`SessionConfig::pids`], the session is per process, as
//!   `perfns record -p` is, and [`LiveSession::processes_exited`] says
//!   when the processes and their children have all exited.

use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use perfns::attr::AttrSet;
use perfns::container::{RecordingMeta, RecordingMode};
use perfns::perf_data::Features;
use perfns::record::Record;

use super::{Progress, RecordError, Recorder, SessionConfig};
use crate::mmap_size::{self, LockBudget};
pub use crate::output::live::LiveRecords;
use crate::scope::{self, Caller, ScopeRequest};

/// How often a live session drains the rings when records do not come
/// fast: the delay of a record, and the finest interval.
pub const DRAIN_INTERVAL: Duration = Duration::from_millis(100);

/// What a live session records, and how often it reports.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// The events, CPUs, `--container` and tracefs, as for a recording;
    /// `output`, `flush_interval` and `compression_level` are not used.
    pub session: SessionConfig,
    /// `--scope`: chosen as `perfns record` chooses.
    pub scope: ScopeRequest,
    /// Whether `session.mmap_pages` was given; if not, the default for the
    /// chosen scope (what the caller may lock), as `perfns record` takes.
    pub mmap_given: bool,
    /// How long an interval lasts.
    pub interval: Duration,
}

impl LiveConfig {
    /// `session` in the scope `auto` chooses, reported every `interval`.
    pub fn new(session: SessionConfig, interval: Duration) -> Self {
        Self {
            session,
            scope: ScopeRequest::Auto,
            mmap_given: false,
            interval,
        }
    }
}

/// One interval of a live session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntervalStats {
    /// Perf time (ns) the interval starts after: the previous interval's
    /// end, or the first record's time.
    pub start_ns: u64,
    /// Perf time (ns) it ends at: every record handed on in it has a time
    /// in `(start_ns, end_ns]` (untimed ones, the statedump's, came first).
    pub end_ns: u64,
    /// Wall-clock time it lasted.
    pub wall: Duration,
    /// Records handed on.
    pub records: u64,
    /// Records drained from the rings (some are handed on next interval).
    pub drained: u64,
    /// Events the kernel dropped (PERF_RECORD_LOST and LOST_SAMPLES), in
    /// the interval.
    pub lost: u64,
    /// Since the session started.
    pub lost_total: u64,
    /// Records that could not be decoded, in the interval.
    pub errors: u64,
}

/// What woke [`LiveSession::next`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wake {
    /// The interval is over.
    Interval(IntervalStats),
    /// One of the `extra` file descriptors is readable (by index); the
    /// interval goes on at the next call.
    Ready(Vec<bool>),
}

/// What a live session's records go to ([`LiveSession::next_to`]).
pub trait Consumer {
    /// The metadata changed (a container learned, named or forgotten):
    /// [`LiveSession::meta`] as it stands, given before the records
    /// drained with the change.
    fn meta(&mut self, meta: &RecordingMeta) {
        let _ = meta;
    }

    /// A record of the event of index `event` in
    /// [`LiveSession::events`]; records come in time order.
    fn record(&mut self, event: usize, record: &Record<'_>);
}

/// A closure taking the records alone, as [`LiveSession::next`] takes it.
struct Records<'f>(&'f mut dyn FnMut(usize, &Record<'_>));

impl Consumer for Records<'_> {
    fn record(&mut self, event: usize, record: &Record<'_>) {
        (self.0)(event, record);
    }
}

/// How a live session ended ([`LiveSession::finish`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveEnd {
    /// What was counted in all, the losses reported at the end among them.
    pub progress: Progress,
    /// What to do about lost events, as [`LiveSession::lost_fix`] says it.
    pub lost_fix: Option<String>,
}

/// A live session: a [`Recorder`] whose records go to a consumer.
#[derive(Debug)]
pub struct LiveSession {
    rec: Recorder,
    interval: Duration,
    started: Instant,
    /// Perf time of the last interval's end (0 before the first).
    last_end: u64,
    /// What the recorder had counted at the last interval's end.
    last_progress: Progress,
    /// Records handed on in this interval.
    handed: u64,
    /// Why the scope is what it is.
    scope_note: String,
    /// Intervals in a row each container has been without a task.
    dead_for: std::collections::HashMap<u64, u32>,
    /// The recorder's metadata generation the consumer was last given.
    meta_given: u64,
}

impl LiveSession {
    /// Chooses the scope, opens and enables the events, and takes the
    /// statedump of the tasks alive (handed on at the first
    /// [`Self::next`]).
    pub fn start(config: LiveConfig) -> Result<Self, RecordError> {
        let LiveConfig {
            mut session,
            scope: request,
            mmap_given,
            interval,
        } = config;
        let choice = if session.pids.is_empty() {
            let caller = Caller::this_process();
            scope::choose(request, perfns::abi::tracer_scope::probe, &caller)
                .map_err(|why| RecordError::Config(format!("--scope tracer: {why}")))?
        } else {
            // -p chooses the tasks itself: per-task events, any kernel.
            scope::ScopeChoice {
                mode: RecordingMode::PerProcess,
                note: "per process (-p)".into(),
                fallback: None,
            }
        };
        session.mode = choice.mode;
        session.extra_flags = scope::extra_flags(choice.mode);
        if choice.mode == RecordingMode::TracerScope {
            if session.cgroup.is_some() {
                return Err(RecordError::Config(
                    "--cgroup selects among the machine's cgroups; in tracer scope the \
                     session is already this container and the ones nested in it"
                        .into(),
                ));
            }
            // The kernel's scope is this container and those nested in it;
            // the consumer picks --container among them by name.
            session.container = None;
        }
        if !mmap_given {
            let budget =
                LockBudget::of_this_process(choice.mode).map_err(|source| RecordError::System {
                    what: "reading what this process may lock for ring buffers".into(),
                    source,
                })?;
            session.mmap_pages = mmap_size::default_data_pages(&budget, super::sideband_pages);
        }
        let rec = Recorder::start_live(session)?;
        let now = Instant::now();
        Ok(Self {
            meta_given: rec.meta_generation(),
            last_progress: Progress::default(),
            rec,
            interval: interval.max(DRAIN_INTERVAL),
            started: now,
            last_end: 0,
            handed: 0,
            scope_note: choice.note,
            dead_for: Default::default(),
        })
    }

    /// The events, in the order `on_record` numbers them.
    pub fn events(&self) -> &AttrSet {
        self.live().events()
    }

    /// The features a recording would have: the host, and the tracing
    /// data with the formats of the tracepoints recorded, and the perfns
    /// metadata as it stands ([`Self::meta`]).
    pub fn features(&self) -> &Features {
        self.rec.features()
    }

    /// The scope, the tasks alive at the start and the containers known
    /// now (new ones are learned from the side-band records as they come).
    pub fn meta(&self) -> &RecordingMeta {
        self.rec.meta()
    }

    /// The scope chosen, and why.
    pub fn scope_note(&self) -> &str {
        &self.scope_note
    }

    /// With `-p` ([`SessionConfig::pids`]): the processes, and every task
    /// they made, have all exited; there is nothing more to see.
    pub fn processes_exited(&self) -> bool {
        self.rec.processes_exited()
    }

    /// How many CPUs are recorded.
    pub fn cpus(&self) -> usize {
        self.rec.cpu_count()
    }

    /// What the recorder has counted since the start.
    pub fn progress(&self) -> Progress {
        self.rec.progress()
    }

    /// Notes for the user since the last call: CPUs going offline and
    /// online, containers that could not be named.
    pub fn take_notes(&mut self) -> Vec<String> {
        self.rec.take_notes()
    }

    /// What to do about lost events, as `perfns record` says it; `None`
    /// while nothing was lost.
    pub fn lost_fix(&self) -> Option<String> {
        let p = self.rec.progress();
        (p.lost + p.lost_samples > 0).then(|| {
            let config = self.rec.config();
            let pages = config.mmap_pages;
            let g = config.groups;
            // With one group there are no fewer to record.
            let fewer = if [g.cpu, g.mem, g.syscalls].iter().filter(|&&on| on).count() > 1 {
                ", or fewer event groups (--events)"
            } else {
                ""
            };
            format!(
                "the ring buffers filled faster than they were drained: use a larger buffer, \
                 -m/--mmap-pages {} (now {pages} pages per CPU){fewer}",
                pages * 4
            )
        })
    }

    fn live(&self) -> &LiveRecords {
        self.rec
            .live()
            .expect("a live session's recorder writes to LiveRecords")
    }

    /// Drains until the interval is over or one of `extra` is readable,
    /// handing each record to `on_record` with its event's index, in time
    /// order. See the module's documentation.
    pub fn next(
        &mut self,
        extra: &[BorrowedFd<'_>],
        on_record: &mut dyn FnMut(usize, &Record<'_>),
    ) -> Result<Wake, RecordError> {
        self.next_to(extra, &mut Records(on_record))
    }

    /// [`Self::next`], the records going to `consumer`, which is given the
    /// metadata each time it changes, before the records that came with
    /// the change.
    pub fn next_to(
        &mut self,
        extra: &[BorrowedFd<'_>],
        consumer: &mut dyn Consumer,
    ) -> Result<Wake, RecordError> {
        let due = self.started + self.interval;
        loop {
            let now = Instant::now();
            let timeout = if self.rec.busy() {
                Duration::ZERO
            } else {
                DRAIN_INTERVAL.min(due.saturating_duration_since(now))
            };
            let ready = self.rec.wait(Some(timeout), extra)?;
            self.rec.drain()?;
            self.handed += self.hand_on(false, consumer);
            // The interval's end first: a descriptor that stays readable
            // (input its reader does not take) must not hold it back.
            if Instant::now() >= due {
                return Ok(Wake::Interval(self.end_interval()));
            }
            if ready.iter().any(|&r| r) {
                return Ok(Wake::Ready(ready));
            }
        }
    }

    /// Hands on the records that are ready (all of them with `all`), the
    /// metadata first if it changed.
    fn hand_on(&mut self, all: bool, consumer: &mut dyn Consumer) -> u64 {
        if self.rec.meta_generation() != self.meta_given {
            self.meta_given = self.rec.meta_generation();
            consumer.meta(self.rec.meta());
        }
        match self.rec.live_mut() {
            Some(l) => l.hand_on(all, &mut |event, record| consumer.record(event, record)),
            None => 0,
        }
    }

    fn end_interval(&mut self) -> IntervalStats {
        self.rec.forget_vanished_containers(&mut self.dead_for);
        let now = Instant::now();
        let p = self.rec.progress();
        let live = self.live();
        let end = live.handed_until().max(self.last_end);
        let start = if self.last_end == 0 {
            live.first_time().unwrap_or(end)
        } else {
            self.last_end
        };
        let errors = self
            .rec
            .live_mut()
            .map(|l| std::mem::take(&mut l.errors))
            .unwrap_or(0);
        let lost_now = p.lost + p.lost_samples;
        let lost_then = self.last_progress.lost + self.last_progress.lost_samples;
        let stats = IntervalStats {
            start_ns: start,
            end_ns: end,
            wall: now.saturating_duration_since(self.started),
            records: std::mem::take(&mut self.handed),
            drained: p.records - self.last_progress.records,
            lost: lost_now - lost_then,
            lost_total: lost_now,
            errors,
        };
        self.last_end = end;
        self.last_progress = p;
        self.started = now;
        stats
    }

    /// Disables the events, drains what is left and hands every record
    /// on, with a PERF_RECORD_LOST for the losses the kernel had not
    /// reported yet; returns what was counted in all.
    pub fn finish(
        self,
        on_record: &mut dyn FnMut(usize, &Record<'_>),
    ) -> Result<LiveEnd, RecordError> {
        self.finish_to(&mut Records(on_record))
    }

    /// [`Self::finish`], the records going to `consumer`.
    pub fn finish_to(mut self, consumer: &mut dyn Consumer) -> Result<LiveEnd, RecordError> {
        self.rec.disable()?;
        self.rec.drain()?;
        if self.rec.lost_readable {
            self.rec.write_unreported_losses()?;
        }
        self.hand_on(true, consumer);
        Ok(LiveEnd {
            progress: self.rec.progress(),
            lost_fix: self.lost_fix(),
        })
    }
}
