//! The command line: every clap type of `perfns` lives here, under its
//! subcommand's module, with the checks that turn its flags into the
//! validated config the layer (perfns-record, perfns-report, run-container)
//! takes. Nothing here opens a file or an event.

pub mod docs;
pub mod publish_tracefs;
pub mod record;
pub mod report;
pub mod run_container;
pub mod serve;
pub mod top;
pub mod trace;

use clap::{Parser, Subcommand};

/// Per-container tracing on perf: record what containers do, report it per
/// container.
#[derive(Debug, Parser)]
#[command(
    name = "perfns",
    version,
    about,
    long_about = None,
    after_help = crate::exit_status::HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Record CPU time, memory and syscalls of the machine's containers into a
    /// perf.data-compatible file.
    #[command(after_help = crate::exit_status::HELP)]
    Record(record::RecordArgs),
    /// Report a recording (perfns's or perf's) per container.
    #[command(after_help = crate::exit_status::HELP)]
    Report(report::ReportArgs),
    /// Run a command in a new container made from namespaces (user, pid,
    /// mount, uts, ipc, cgroup and, on a perfns kernel, tracer), with its
    /// own cgroup when permitted. No runtime or privilege needed.
    ///
    /// SIGINT, SIGTERM and SIGHUP are passed on to the container's init; an
    /// init that leaves the signal at its default action (which the kernel
    /// withholds from a namespace's init) is killed at once, and the exit
    /// status is 128 + the signal. An init that handles a signal sent with
    /// kill (not the terminal's Ctrl-C) has 10 s to exit, then is killed.
    /// The container dies with perfns, even by SIGKILL; its cgroup is
    /// removed on every exit but SIGKILL's.
    RunContainer(run_container::RunContainerArgs),
    /// Trace syscalls as strace does, a line per call with its arguments,
    /// result and duration, for a container, processes or a command, from
    /// perf's ring buffers (no ptrace); or a recording (-i). -c: strace
    /// -c's summary per container.
    #[command(after_help = crate::exit_status::HELP)]
    Trace(trace::TraceArgs),
    /// Copy the formats of the tracepoints a tenant may record (those the
    /// tracer scope takes: the event groups' and every syscalls:*) out of
    /// tracefs into DIR, world-readable (as root on the host), for tenants
    /// to record with `perfns record --tracefs DIR`.
    PublishTracefs(publish_tracefs::PublishArgs),
    /// Watch the containers live: CPU, memory and syscalls per container
    /// and interval, full screen as top, or in batch (-b) as text or JSON
    /// Lines.
    #[command(after_help = crate::exit_status::HELP)]
    Top(top::TopArgs),
    /// Serve per-container counters to Prometheus from a continuous
    /// recording (`perfns record --switch-output -o DIR/perf.data`).
    Serve(serve::ServeArgs),
    /// Print a shell's completion script for perfns
    /// (`perfns completions bash > /usr/share/bash-completion/completions/perfns`).
    Completions(docs::CompletionsArgs),
    /// Print the man page perfns(1), or write it and one per subcommand
    /// into a directory (`perfns man --dir /usr/local/share/man/man1`).
    Man(docs::ManArgs),
}
