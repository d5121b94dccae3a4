//! The `perfns` command: `perfns record` and `perfns report`.
//!
//! A thin binary: it parses the command line and hands each subcommand's
//! arguments to its layer (perfns-record, perfns-report), which validates
//! them into a config before any work starts.

use std::io;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
