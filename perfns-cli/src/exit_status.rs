//! `perfns`'s exit statuses: one value per outcome a script may want to
//! tell apart, sysexits(3)-style where one fits, documented in `--help`
//! ([`HELP`]) and the README.

use std::io;
use std::process::ExitCode;

use perfns::abi::OpenError;

/// How `perfns` ends. `perfns run-container` is the exception: it exits
/// as its command did (128 + the signal that ended it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitStatus {
    /// Done, nothing missing.
    Success = 0,
    /// Any other error; the message says what.
    Failure = 1,
    /// The command line is wrong (clap's status).
    Usage = 2,
    /// `perfns record`: the file is complete and readable, but the kernel
    /// lost events (ring buffers full); the summary says how many and the
    /// fix. `perfns trace`: calls are missing from the trace (lost events,
    /// unreadable records); its warnings say how many.
    LostEvents = 3,
    /// `perfns report`: the report was printed, but the recording is
    /// damaged (truncated, or records that could not be read); its
    /// warnings say what the figures miss.
    DamagedRecording = 4,
    /// The file shrank while `perfns report` read it (EX_IOERR; exited
    /// from the SIGBUS handler, `perfns::perf_data::EXIT_FILE_SHRANK`).
    FileShrank = 74,
    /// Permission refused: perf_event_open (perf_event_paranoid,
    /// CAP_PERFMON), a file or tracefs (EX_NOPERM).
    NoPermission = 77,
}

/// The statuses as `--help` shows them, after the options.
pub const HELP: &str = "\
Exit status:
  0   success
  1   error (the message says what)
  2   usage error (a wrong command line)
  3   perfns record: the file is whole, but the kernel lost events;
      perfns trace: calls are missing (lost events, unreadable records)
  4   perfns report: reported, but the recording is damaged (truncated or
      unreadable records; the warnings say what the figures miss)
  74  perfns report: the file shrank while being read
  77  permission refused (perf_event_open, a file, tracefs)
perfns run-container exits as its command did (128 + a signal's number).";

impl ExitStatus {
    /// The status of an error: [`Self::NoPermission`] when the kernel or a
    /// file refused permission anywhere in its chain, else
    /// [`Self::Failure`].
    pub fn of_error(err: &anyhow::Error) -> Self {
        let refused = err.chain().any(|cause| {
            let errno = if let Some(e) = cause.downcast_ref::<OpenError>() {
                e.errno()
            } else if let Some(e) = cause.downcast_ref::<io::Error>() {
                e.raw_os_error()
            } else {
                None
            };
            matches!(errno, Some(libc::EPERM | libc::EACCES))
        });
        if refused {
            Self::NoPermission
        } else {
            Self::Failure
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        ExitCode::from(status as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_lists_every_status_and_the_library_agrees() {
        for status in [
            ExitStatus::Success,
            ExitStatus::Failure,
            ExitStatus::Usage,
            ExitStatus::LostEvents,
            ExitStatus::DamagedRecording,
            ExitStatus::FileShrank,
            ExitStatus::NoPermission,
        ] {
            let line = format!("\n  {:<4}", status as u8);
            assert!(HELP.contains(&line), "{status:?} is not in HELP");
        }
        assert_eq!(
            ExitStatus::FileShrank as i32,
            perfns::perf_data::EXIT_FILE_SHRANK
        );
        let usage = clap::Error::raw(clap::error::ErrorKind::InvalidValue, "");
        assert_eq!(ExitStatus::Usage as i32, usage.exit_code());
    }

    #[test]
    fn a_refused_permission_is_told_apart() {
        let denied = anyhow::Error::new(io::Error::from_raw_os_error(libc::EACCES))
            .context("opening /sys/kernel/tracing");
        assert_eq!(ExitStatus::of_error(&denied), ExitStatus::NoPermission);
        let missing = anyhow::Error::new(io::Error::from_raw_os_error(libc::ENOENT));
        assert_eq!(ExitStatus::of_error(&missing), ExitStatus::Failure);
    }
}
