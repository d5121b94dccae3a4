//! `perfns top`: a live per-container view. A [`LiveSession`] drains the
//! ring buffers into the report's analysis ([`Analysis::interval`]); each
//! interval becomes a [`frame::Frame`], shown full screen ([`screen`]),
//! printed as text or as a JSON line ([`text`]).

use std::io::Write;

use anyhow::Context;
use perfns::container::RecordingMode;
use perfns_record::session::live::{IntervalStats, LiveConfig, LiveSession, Wake};
use perfns_report::analysis::Analysis;
use perfns_report::{Options, SortKey};

pub mod frame;
mod keys;
mod screen;
pub mod text;

/// `perfns top`'s validated configuration.
#[derive(Debug, Clone)]
pub struct TopConfig {
    /// The live session.
    pub live: LiveConfig,
    /// How frames are shown.
    pub display: Display,
    /// Stop after this many frames.
    pub iterations: Option<u64>,
    /// `--container`: start inside it.
    pub container: Option<String>,
    /// The first sort key.
    pub sort: SortKey,
}

/// How frames are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// Full screen, with keys.
    Screen,
    /// Text frames on stdout.
    Text,
    /// JSON Lines on stdout.
    Json,
}

/// A live session and the analysis it feeds.
pub(crate) struct Top {
    live: LiveSession,
    analysis: Analysis,
    options: Options,
    intervals: u64,
    scope: &'static str,
}

impl Top {
    fn start(config: &TopConfig) -> anyhow::Result<Self> {
        let live = LiveSession::start(config.live.clone()).context("perfns top")?;
        if let Some(wanted) = &config.container {
            perfns_record::session::find_container(&live.meta().containers, wanted)?;
        }
        let analysis = Analysis::live("live".into(), live.events(), live.features());
        let scope = match live.meta().mode {
            RecordingMode::TracerScope => "tracer",
            RecordingMode::SystemWide => "system",
            RecordingMode::PerProcess => "per-process",
        };
        Ok(Self {
            live,
            analysis,
            options: Options {
                container: config.container.clone(),
                // Every process: the view expands containers into them.
                top: usize::MAX,
                sort: config.sort,
                ..Options::default()
            },
            intervals: 0,
            scope,
        })
    }

    /// Drains until the interval ends (its frame) or one of `extra` is
    /// readable (`None`).
    fn next(
        &mut self,
        extra: &[std::os::fd::BorrowedFd<'_>],
    ) -> anyhow::Result<Option<frame::Frame>> {
        let analysis = &mut self.analysis;
        let wake = self
            .live
            .next(extra, &mut |event, record| analysis.record(event, record))?;
        match wake {
            Wake::Ready(_) => Ok(None),
            Wake::Interval(stats) => Ok(Some(self.frame(&stats))),
        }
    }

    fn frame(&mut self, stats: &IntervalStats) -> frame::Frame {
        self.intervals += 1;
        self.analysis.set_containers(self.live.meta());
        let session = frame::Session {
            interval: self.intervals,
            stats,
            cpus: self.live.cpus(),
            scope: self.scope,
            lost_fix: self.live.lost_fix(),
        };
        match self
            .analysis
            .interval(stats.start_ns, stats.end_ns, &self.options)
        {
            Ok(report) => frame::frame(&report, &session, self.options.sort),
            // `--container`'s container had no task in the interval.
            Err(_) => {
                let mut empty = perfns_report::model::Report {
                    schema: perfns_report::model::SCHEMA,
                    header: empty_header(stats),
                    sorted_by: self.options.sort,
                    then_sorted_by: Vec::new(),
                    containers: Vec::new(),
                    processes: None,
                    profile: None,
                };
                empty.header.time.duration_ns = stats.end_ns.saturating_sub(stats.start_ns);
                frame::frame(&empty, &session, self.options.sort)
            }
        }
    }
}

/// The header of an interval with nothing to show.
fn empty_header(stats: &IntervalStats) -> perfns_report::model::Header {
    use perfns_report::model::*;
    Header {
        file: "live".into(),
        recording: Recording {
            tool: "perfns",
            version: None,
            cmdline: None,
            mode: None,
            scope: None,
            hostname: None,
            kernel: None,
            arch: None,
            compression: None,
            pipe_mode: false,
        },
        time: TimeRange {
            start_ns: stats.start_ns,
            end_ns: stats.end_ns,
            duration_ns: 0,
            ranges: Vec::new(),
        },
        cpus: Cpus {
            online: None,
            available: None,
            recorded: Vec::new(),
        },
        events: Vec::new(),
        lost: Lost::default(),
        containers_from: ContainerSource::PerfnsMetadata,
        cpu_time_from: CpuTimeSource::SchedSwitch,
        memory_recorded: false,
        memory_in_interrupts: None,
        syscalls_recorded: false,
        uprobes_recorded: false,
        user_events_recorded: false,
        tracepoints_recorded: false,
        notes: Vec::new(),
        warnings: Vec::new(),
        damaged: false,
    }
}

/// Runs `perfns top`; returns whether events were lost in batch mode
/// (the exit status says it to scripts; the full-screen view says it in
/// its header).
pub fn run(config: &TopConfig) -> anyhow::Result<bool> {
    let mut top = Top::start(config)?;
    match config.display {
        Display::Screen => {
            screen::run(&mut top, config)?;
            Ok(false)
        }
        Display::Text | Display::Json => batch(&mut top, config),
    }
}

/// Batch mode: a frame per interval on stdout, notes on stderr.
fn batch(top: &mut Top, config: &TopConfig) -> anyhow::Result<bool> {
    let mut stdout = std::io::stdout().lock();
    let mut lost = false;
    let mut shown = 0;
    while config.iterations.is_none_or(|n| shown < n) {
        let Some(frame) = top.next(&[])? else {
            continue;
        };
        for note in top.live.take_notes() {
            eprintln!("[ perfns top: {note} ]");
        }
        lost |= frame.lost > 0;
        let out = match config.display {
            Display::Json => text::json(&frame),
            _ => text::text(&frame, false),
        };
        stdout.write_all(out.as_bytes())?;
        stdout.flush()?;
        shown += 1;
    }
    Ok(lost)
}
