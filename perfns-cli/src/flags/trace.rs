//! `perfns trace`'s flags, and how they become a validated
//! [`TraceConfig`] before anything is opened.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::Context;
use perfns::container::RecordingScope;
use perfns_record::events::EventGroups;
use perfns_record::mmap_size::MmapSize;
use perfns_record::session::live::{LiveConfig, DRAIN_INTERVAL};
use perfns_record::session::SessionConfig;
use perfns_report::trace::{decode, TraceOptions};

use super::record::{check_command, mmap_data_pages, ScopeArg};
use crate::trace::{LiveTrace, Source, TraceConfig, TraceFormat};

/// `perfns trace`'s command line, as clap parses it.
#[derive(Debug, clap::Args)]
pub struct TraceArgs {
    /// Trace a recording instead (perfns record's with the syscalls group,
    /// `perf trace record`'s, or perf record's of raw_syscalls:* or
    /// syscalls:sys_enter_*/sys_exit_*), as `perf trace -i`; `-`: a
    /// pipe-mode stream on stdin.
    #[arg(short, long, value_name = "FILE", conflicts_with_all = ["command", "scope", "mmap_pages"])]
    pub input: Option<PathBuf>,
    /// Only this container and the ones nested in it: its name, runtime id
    /// (or a prefix), key (pidns:INODE) or cgroup path, as `perfns report
    /// --container`. Live in system scope, only its cgroup is recorded; in
    /// tracer scope (a tenant) it is one of the scope's containers, the
    /// tenant's own included.
    #[arg(long, value_name = "NAME|ID")]
    pub container: Option<String>,
    /// Only these processes (all their threads), and the processes they
    /// start once traced: pids, comma-separated.
    #[arg(
        short = 'p',
        long = "pid",
        value_name = "PID[,PID...]",
        value_delimiter = ',',
        value_parser = clap::value_parser!(i32).range(1..)
    )]
    pub pids: Vec<i32>,
    /// Only these syscalls, comma-separated: names (`openat,read`) and
    /// strace's classes (%file, %network, %process, %memory, %signal);
    /// strace's `trace=` prefix is accepted.
    #[arg(short = 'e', long = "expr", value_name = "SYSCALL|%CLASS,...")]
    pub expr: Option<String>,
    /// Only calls that returned an error (strace -Z).
    #[arg(short = 'Z', long)]
    pub failed: bool,
    /// Only calls that took at least this long, in milliseconds (fractions
    /// allowed), as perf trace --duration.
    #[arg(long, value_name = "MS")]
    pub duration_min: Option<f64>,
    /// Print only a summary at the end, per container (strace -c): calls,
    /// errors and latency per syscall, and a latency histogram.
    #[arg(short = 'c', long)]
    pub summary: bool,
    /// Output format: text (a line per call), or json (JSON Lines, schema
    /// perfns-trace/1, docs/trace-json.md).
    #[arg(long, value_enum, default_value_t = TraceFormat::Text)]
    pub format: TraceFormat,
    /// Write the trace to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Where to read the syscalls:sys_enter_* formats that name each
    /// call's arguments (and, live, the tracepoints' formats): a tracefs,
    /// or a copy of one (a tenant's `perfns publish-tracefs` directory).
    /// Default: the mounted tracefs.
    #[arg(long, value_name = "DIR")]
    pub tracefs: Option<PathBuf>,
    /// Live: what to trace, as `perfns record --scope`.
    #[arg(long, value_enum)]
    pub scope: Option<ScopeArg>,
    /// Live: ring buffer size per CPU, as `perfns record -m`.
    #[arg(short = 'm', long, value_name = "PAGES|SIZE")]
    pub mmap_pages: Option<MmapSize>,
    /// Command to run and trace, with the processes it starts; the trace
    /// ends when it exits. With -p or --container, which choose the tasks,
    /// it only says how long to trace (`-- sleep 10`).
    #[arg(last = true)]
    pub command: Vec<String>,
}

impl TraceArgs {
    /// Checks the command line before anything is opened.
    pub fn into_config(self) -> anyhow::Result<TraceConfig> {
        let syscalls = self.expr.as_deref().map(syscall_set).transpose()?;
        let duration_min_ns = match self.duration_min {
            None => 0,
            Some(ms) if ms.is_finite() && ms >= 0.0 => (ms * 1e6) as u64,
            Some(ms) => anyhow::bail!("--duration-min {ms}: must be a number of milliseconds"),
        };
        let options = TraceOptions {
            container: self.container.clone(),
            pids: self.pids.clone(),
            children_of: None,
            exclude: Vec::new(),
            syscalls,
            failed: self.failed,
            duration_min_ns,
        };
        let source = match self.input {
            Some(input) => Source::File(input),
            None => Source::Live(Box::new(self.live(&options)?)),
        };
        Ok(TraceConfig {
            source,
            options,
            summary: self.summary,
            format: self.format,
            output: self.output,
            tracefs: self.tracefs,
        })
    }

    /// The live session a trace runs: the syscalls group alone.
    fn live(&self, options: &TraceOptions) -> anyhow::Result<LiveTrace> {
        if let Some(program) = self.command.first() {
            check_command(program)?;
        }
        // A live session has no file.
        let mut session = SessionConfig::new(PathBuf::new());
        let mut notes = Vec::new();
        if let Some(size) = self.mmap_pages {
            let (pages, note) = mmap_data_pages(size)?;
            session.mmap_pages = pages;
            notes.extend(note);
        }
        session.groups = EventGroups {
            cpu: false,
            mem: false,
            syscalls: true,
        };
        session.container = options.container.clone();
        session.tracefs = self.tracefs.clone();
        if !self.command.is_empty() {
            session.scope = RecordingScope::Command {
                argv: self.command.clone(),
            };
        }
        if !options.pids.is_empty() {
            if self.container.is_some() || self.scope.is_some() {
                anyhow::bail!(
                    "-p traces processes wherever they are: not with --container or --scope"
                );
            }
            session.scope = RecordingScope::Processes {
                pids: options.pids.clone(),
            };
            session.pids = options.pids.clone();
        }
        // Intervals mean nothing to a trace, whose lines are printed as
        // each drain hands their calls on: the shortest.
        let mut live = LiveConfig::new(session, DRAIN_INTERVAL);
        live.scope = self.scope.unwrap_or(ScopeArg::Auto).into();
        live.mmap_given = self.mmap_pages.is_some();
        Ok(LiveTrace {
            live,
            command: self.command.clone(),
            notes,
        })
    }
}

/// `-e`'s syscalls: names and strace's classes, each checked against this
/// machine's syscall table.
fn syscall_set(expr: &str) -> anyhow::Result<BTreeSet<String>> {
    let list = expr.strip_prefix("trace=").unwrap_or(expr);
    let arch = perfns::syscalls::host_arch();
    let known = |name: &str| (0..1024).any(|nr| perfns::syscalls::name(&arch, nr) == Some(name));
    let mut set = BTreeSet::new();
    for word in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        if let Some(class) = word.strip_prefix('%') {
            let names = decode::class(class).with_context(|| {
                format!(
                    "-e {expr}: unknown class %{class} (the classes are %file, %network, \
                     %process, %memory, %signal)"
                )
            })?;
            // A class names the syscalls of every architecture; those this
            // one lacks are simply never seen.
            set.extend(names.iter().map(|n| (*n).to_owned()));
        } else if known(word) {
            set.insert(word.to_owned());
        } else {
            anyhow::bail!("-e {expr}: `{word}` is no syscall of {arch}");
        }
    }
    if set.is_empty() {
        anyhow::bail!("-e {expr}: no syscall given");
    }
    Ok(set)
}

#[cfg(test)]
// A test's unwrap failing is its report.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn expressions_take_names_and_classes() {
        let set = syscall_set("trace=getppid,%signal").unwrap();
        assert!(set.contains("getppid") && set.contains("rt_sigaction") && set.contains("kill"));
        assert!(!set.contains("openat"));
        let err = syscall_set("openat,nosuchcall").unwrap_err().to_string();
        assert!(err.contains("`nosuchcall` is no syscall"), "{err}");
        let err = syscall_set("%files").unwrap_err().to_string();
        assert!(err.contains("unknown class %files"), "{err}");
        assert!(syscall_set(",").is_err());
    }
}
