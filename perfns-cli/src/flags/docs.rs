//! `perfns completions` and `perfns man`'s flags.

use std::path::PathBuf;

/// `perfns completions`'s command line.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `perfns man`'s command line.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write perfns.1 and one page per subcommand (perfns-record.1, ...)
    /// into DIR, a man1 directory; without it, print perfns(1) on stdout.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}
