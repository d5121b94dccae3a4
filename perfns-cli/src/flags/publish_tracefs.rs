//! `perfns publish-tracefs`'s flags.

use std::path::PathBuf;

/// `perfns publish-tracefs`'s command line, as clap parses it.
#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// The directory to publish into (created if missing); tenants pass it
    /// to `perfns record --tracefs`, so it must be visible in their
    /// containers (a bind mount, for one).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The tracefs to read. Default: the mounted one.
    #[arg(long, value_name = "TRACEFS")]
    pub from: Option<PathBuf>,
}
