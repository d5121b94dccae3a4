//! perfns report layer: per-container analyses of a recording and their
//! rendering.

use std::path::PathBuf;

/// `perfns report`'s command line, as clap parses it.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Input file.
    #[arg(short, long, default_value = "perf.data")]
    pub input: PathBuf,
    /// One section per container: cputop, memtop and syscalls.
    #[arg(long)]
    pub per_container: bool,
}

/// Runs `perfns report`.
pub fn run(_args: ReportArgs) -> anyhow::Result<()> {
    anyhow::bail!("perfns report is not built yet (issue: perfns report --per-container)")
}
