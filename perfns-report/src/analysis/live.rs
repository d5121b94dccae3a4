//! The analyses of a live session (`perfns top`): records fed as they are
//! drained (perfns-record's `LiveSession`), a report per interval, then
//! the figures reset and the tasks that exited forgotten, so that what is
//! kept is O(tasks alive + containers), never O(events).
//!
//! An interval's CPU time is exact: the tasks running at its end are
//! charged up to it and go on running into the next one, which charges
//! them from there.

use perfns::attr::AttrSet;
use perfns::container::RecordingMeta;
use perfns::perf_data::Features;

use super::{Analysis, IntMap};

/// How many intervals a live analysis keeps the path of a cgroup no task
/// of it is seen in: a container's cgroup may be empty for a while (a
/// service restarting in it) before a task comes back, whose samples name
/// it by id alone (the kernel's CGROUP record came when it was made).
/// Beyond that, a machine making and removing containers all day would
/// keep every path it ever saw.
pub(crate) const CGROUP_FORGET_AFTER: u64 = 60;
use crate::model::{Lost, MemoryFigures, Report, TimeRange};
use crate::{NoSuchContainer, Options};

impl Analysis {
    /// A live analysis of the events `events` (in the order records are
    /// fed with), with `features`' tracepoint formats and perfns metadata
    /// (the tasks alive at the start, the containers then).
    pub fn live(name: String, events: &AttrSet, features: &Features) -> Self {
        Self {
            live: true,
            ..Self::new(name, events, features, &[])
        }
    }

    /// Takes the containers as the live session knows them now (those
    /// that appeared since the start); the tasks are the records' to say.
    pub fn set_containers(&mut self, meta: &RecordingMeta) {
        let Some(mine) = self.meta.as_mut() else {
            self.meta = Some(RecordingMeta {
                tasks: Vec::new(),
                ..meta.clone()
            });
            return;
        };
        // The start's tasks seeded the analysis; they are not kept twice.
        mine.tasks = Vec::new();
        mine.containers.clone_from(&meta.containers);
        mine.lost.clone_from(&meta.lost);
        mine.scope = meta.scope.clone();
    }

    /// The report of the interval `(start_ns, end_ns]` (the records fed
    /// since the last one, which must all be in it), the tasks running at
    /// `end_ns` charged up to it; then the figures start again from zero,
    /// and the tasks that exited an interval ago or more are forgotten, as
    /// are the cgroups no task has been in for [`CGROUP_FORGET_AFTER`]
    /// intervals.
    pub fn interval(
        &mut self,
        start_ns: u64,
        end_ns: u64,
        options: &Options,
    ) -> Result<Report, NoSuchContainer> {
        // Before the first switch on a CPU, its task has run since the
        // interval began.
        self.first_time = Some(self.first_time.map_or(start_ns, |f| f.max(start_ns)));
        self.charge_until(end_ns);
        let time = TimeRange {
            start_ns,
            end_ns,
            duration_ns: end_ns.saturating_sub(start_ns),
            ranges: Vec::new(),
        };
        let report = self.report(time, options);
        self.reset(end_ns);
        report
    }

    /// Notes that task `tid` exited: a live analysis forgets it at the end
    /// of the next interval (its last switch out may come after).
    pub(super) fn exited(&mut self, tid: i32) {
        // Made if new: from switch records, a task that ran is made only
        // when it leaves the CPU, which may come after its EXIT; it is the
        // same task then.
        let i = self.task_index(tid);
        self.tasks[i].exited_in = Some(self.intervals);
    }

    /// Zeroes the figures for the next interval, which starts at `end`,
    /// and forgets the tasks that exited before this interval.
    fn reset(&mut self, end: u64) {
        let this = self.intervals;
        self.tasks
            .retain(|t| t.exited_in.is_none_or(|when| when == this));
        for id in self.tasks.iter().filter_map(|t| t.cgroup) {
            self.cgroup_used_in.insert(id, this);
        }
        // Forgotten once CGROUP_FORGET_AFTER intervals have ended since
        // (and with) the last it was used in.
        self.cgroup_used_in
            .retain(|_, used| this + 1 - *used < CGROUP_FORGET_AFTER);
        let used = &self.cgroup_used_in;
        self.cgroups.retain(|id, _| used.contains_key(id));
        self.by_tid = IntMap::default();
        for (i, t) in self.tasks.iter_mut().enumerate() {
            t.cpu_ns = 0;
            t.samples = 0;
            t.memory = MemoryFigures::default();
            t.syscalls.clear();
            t.uprobes.clear();
            t.tracepoints.clear();
            self.by_tid.insert(t.tid, i);
        }
        self.last_task = None;
        self.event_samples.iter_mut().for_each(|n| *n = 0);
        self.lost = Lost {
            samples_recount_records: self.lost.samples_recount_records,
            ..Lost::default()
        };
        self.errors = 0;
        self.quoted_errors.clear();
        self.switch_gaps = 0;
        self.unattributed_ns = 0;
        self.memory_in_interrupts = MemoryFigures::default();
        self.unread.clear();
        self.first_time = Some(end);
        self.last_time = end;
        self.intervals += 1;
    }

    /// How many tasks the analysis holds: those alive, and those that
    /// exited in the last interval.
    pub fn tasks_held(&self) -> usize {
        self.tasks.len()
    }

    /// How many cgroup paths the analysis holds.
    pub fn cgroups_held(&self) -> usize {
        self.cgroups.len()
    }
}
