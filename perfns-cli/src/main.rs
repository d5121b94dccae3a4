//! The `perfns` command: `perfns record`, `perfns report`,
//! `perfns run-container`, `perfns publish-tracefs` and `perfns serve`.
//!
//! A thin binary: it parses the command line and hands each subcommand's
//! arguments to its layer (perfns-record, perfns-report), which validates
//! them into a config before any work starts.

use std::io;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use run_container::{Cgroup, ContainerSpec, TracerNamespace};

mod run_container;

/// Per-container tracing on perf: record what containers do, report it per
/// container.
#[derive(Debug, Parser)]
#[command(name = "perfns", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Record CPU time, memory and syscalls of the machine's containers into a
    /// perf.data-compatible file.
    Record(perfns_record::RecordArgs),
    /// Report a recording (perfns's or perf's) per container.
    Report(perfns_report::ReportArgs),
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
    RunContainer(RunContainerArgs),
    /// Copy the formats of the tracepoints perfns record uses out of tracefs
    /// into DIR, world-readable (as root on the host), for tenants to record
    /// with `perfns record --tracefs DIR`.
    PublishTracefs(perfns_record::publish::PublishArgs),
    /// Serve per-container counters to Prometheus from a continuous
    /// recording (`perfns record --switch-output -o DIR/perf.data`).
    Serve(perfns_report::serve::ServeArgs),
}

/// `perfns run-container`'s command line.
#[derive(Debug, clap::Args)]
struct RunContainerArgs {
    /// The container's name: its hostname, and its cgroup's name.
    name: String,
    /// Give it a tracer namespace: when the kernel has them (auto), always
    /// (required) or never (no).
    #[arg(long, value_enum, default_value_t = TracerArg::Auto)]
    tracer: TracerArg,
    /// Leave it in the caller's cgroup.
    #[arg(long)]
    no_cgroup: bool,
    /// The command to run in it.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum TracerArg {
    Auto,
    Required,
    No,
}

impl From<RunContainerArgs> for ContainerSpec {
    fn from(args: RunContainerArgs) -> Self {
        ContainerSpec {
            name: args.name,
            command: args.command,
            tracer: match args.tracer {
                TracerArg::Auto => TracerNamespace::Auto,
                TracerArg::Required => TracerNamespace::Required,
                TracerArg::No => TracerNamespace::No,
            },
            cgroup: if args.no_cgroup {
                Cgroup::No
            } else {
                Cgroup::Auto
            },
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("perfns: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Record(args) => perfns_record::run(args)?,
        Command::Report(args) => perfns_report::run(args)?,
        Command::PublishTracefs(args) => perfns_record::publish::run(args)?,
        Command::Serve(args) => perfns_report::serve::run(args)?,
        Command::RunContainer(args) => {
            // SAFETY: this process is single-threaded: nothing before this
            // point starts a thread (clap parses on this one).
            let code = unsafe { run_container::run(&ContainerSpec::from(args)) }?;
            return Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether the error is a write to a closed pipe (`perfns report | head`),
/// which is how a pager or `head` says it has seen enough.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}
