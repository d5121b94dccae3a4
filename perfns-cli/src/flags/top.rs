//! `perfns top`'s flags, and how they become the validated
//! [`TopConfig`](crate::top::TopConfig) before anything is opened.

use std::path::PathBuf;
use std::time::Duration;

use perfns_record::events::EventGroups;
use perfns_record::mmap_size::MmapSize;
use perfns_record::session::live::{LiveConfig, DRAIN_INTERVAL};
use perfns_record::session::SessionConfig;

use super::record::{mmap_data_pages, ScopeArg};
use super::report::SortArg;
use crate::top::{Display, TopConfig};

/// `perfns top`'s command line, as clap parses it.
#[derive(Debug, clap::Args)]
pub struct TopArgs {
    /// Seconds between frames (fractions allowed, 0.1 at least), as top's
    /// -d.
    #[arg(
        short = 'd',
        long = "delay",
        value_name = "SECONDS",
        default_value_t = 1.0
    )]
    pub delay: f64,
    /// Batch mode, as top's -b: frames printed one after the other as
    /// text (or JSON Lines with --format json), not a full-screen view.
    #[arg(short = 'b', long)]
    pub batch: bool,
    /// Stop after N frames, as top's -n.
    #[arg(short = 'n', long = "iterations", value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub iterations: Option<u64>,
    /// Frame format in batch mode: `text`, or `json`, one object per
    /// interval on a line of its own (schema perfns-top/1,
    /// docs/top-json.md); json implies -b.
    #[arg(long, value_enum, default_value_t = TopFormat::Text)]
    pub format: TopFormat,
    /// What to watch: `system`, the whole machine (root or CAP_PERFMON on
    /// the host); `tracer`, this container and the containers nested in it
    /// (unprivileged, on a kernel with the perfns series); `auto`, as
    /// `perfns record` chooses.
    #[arg(long, value_enum, default_value_t = ScopeArg::Auto)]
    pub scope: ScopeArg,
    /// Start inside one container: it and the containers nested in it
    /// (its name, runtime id or prefix, key or cgroup path, as `perfns
    /// report --container` takes them).
    #[arg(long, value_name = "NAME|ID")]
    pub container: Option<String>,
    /// Sort containers (and processes) by: cpu, mem (pages allocated) or
    /// syscalls; the keys c, m and s change it in the full-screen view.
    #[arg(long, value_enum, default_value_t = SortArg::Cpu)]
    pub sort: SortArg,
    /// Event groups, comma-separated: cpu, mem, syscalls (as `perfns
    /// record -e`).
    #[arg(
        short = 'e',
        long,
        value_name = "cpu,mem,syscalls",
        default_value = "cpu,mem,syscalls"
    )]
    pub events: String,
    /// Ring buffer size per CPU, as `perfns record -m`.
    #[arg(short = 'm', long, value_name = "PAGES|SIZE")]
    pub mmap_pages: Option<MmapSize>,
    /// Where to read tracepoint formats, as `perfns record --tracefs`.
    #[arg(long, value_name = "DIR")]
    pub tracefs: Option<PathBuf>,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TopFormat {
    /// Text frames.
    Text,
    /// JSON Lines, schema perfns-top/1.
    Json,
}

impl TopArgs {
    /// Checks the command line before anything is opened.
    pub fn into_config(self) -> anyhow::Result<TopConfig> {
        if !self.delay.is_finite() || self.delay < DRAIN_INTERVAL.as_secs_f64() {
            anyhow::bail!(
                "-d {}: the delay must be {} s or more",
                self.delay,
                DRAIN_INTERVAL.as_secs_f64()
            );
        }
        let groups: EventGroups = self
            .events
            .parse()
            .map_err(|e: String| anyhow::anyhow!("--events {}: {e}", self.events))?;
        let mut session = SessionConfig::new("-");
        session.groups = groups;
        session.tracefs = self.tracefs;
        if let Some(size) = self.mmap_pages {
            session.mmap_pages = mmap_data_pages(size)?.0;
        }
        let mut live = LiveConfig::new(session, Duration::from_secs_f64(self.delay));
        live.scope = self.scope.into();
        live.mmap_given = self.mmap_pages.is_some();
        let display = match (self.batch, self.format) {
            (_, TopFormat::Json) => Display::Json,
            (true, TopFormat::Text) => Display::Text,
            (false, TopFormat::Text) => Display::Screen,
        };
        Ok(TopConfig {
            live,
            display,
            iterations: self.iterations,
            container: self.container,
            sort: self.sort.into(),
        })
    }
}
