//! The `perfns` command: `perfns record`, `perfns report`, `perfns top`,
//! `perfns trace`, `perfns run-container`, `perfns publish-tracefs`,
//! `perfns serve`, and `perfns completions` and `perfns man` to install.
//!
//! A thin binary: it parses the command line ([`flags`]), checks each
//! subcommand's flags into the validated config of its layer
//! (perfns-record, perfns-report, [`run_container`]) before any work
//! starts, and hands it over.

use std::io;
use std::process::ExitCode;

use clap::Parser;
use exit_status::ExitStatus;
use flags::{Cli, Command};
use run_container::ContainerSpec;

mod completions_and_man;
mod exit_status;
mod flags;
mod run_container;
mod top;
mod trace;

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("perfns: {err:#}");
            ExitStatus::of_error(&err).into()
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Record(args) => {
            let summary = perfns_record::run(args.into_config()?)?;
            let p = &summary.progress;
            if p.lost + p.lost_samples > 0 {
                return Ok(ExitStatus::LostEvents.into());
            }
        }
        Command::Report(args) => {
            if perfns_report::run(&args.into_config()?)? == perfns_report::Reported::Damaged {
                return Ok(ExitStatus::DamagedRecording.into());
            }
        }
        Command::Trace(args) => {
            if trace::run(args.into_config()?)? == trace::Traced::Incomplete {
                return Ok(ExitStatus::LostEvents.into());
            }
        }
        Command::Top(args) => {
            if top::run(&args.into_config()?)? {
                return Ok(ExitStatus::LostEvents.into());
            }
        }
        Command::PublishTracefs(args) => perfns_record::publish::run(&args.dir, args.from)?,
        Command::Serve(args) => perfns_report::serve::run(&args.into())?,
        Command::Completions(args) => {
            completions_and_man::completions(args.shell, &mut io::stdout().lock())?;
        }
        Command::Man(args) => match args.dir {
            Some(dir) => completions_and_man::man_pages(&dir)?,
            None => completions_and_man::man_page(&mut io::stdout().lock())?,
        },
        Command::RunContainer(args) => {
            // SAFETY: this process is single-threaded: nothing before this
            // point starts a thread (clap parses on this one).
            let code = unsafe { run_container::run(&ContainerSpec::from(args)) }?;
            return Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)));
        }
    }
    Ok(ExitStatus::Success.into())
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
