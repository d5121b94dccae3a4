//! `perfns serve`'s flags: the report's [`ServeConfig`] as the command line
//! spells it.

use std::path::PathBuf;

use perfns_report::serve::ServeConfig;

/// `perfns serve`'s command line.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The directory `perfns record --switch-output -o DIR/NAME` writes
    /// its finished files to.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// The recording's file name (`-o`'s last part): the finished files
    /// are NAME.<timestamp>.
    #[arg(long, value_name = "NAME", default_value = "perf.data")]
    pub name: String,
    /// Where to answer `GET /metrics` (port 0: any free port; the address
    /// taken is said on stderr).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9464")]
    pub listen: String,
}

impl From<ServeArgs> for ServeConfig {
    fn from(args: ServeArgs) -> Self {
        ServeConfig {
            dir: args.dir,
            name: args.name,
            listen: args.listen,
        }
    }
}
