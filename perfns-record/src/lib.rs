//! perfns record layer: opens per-CPU perf events, drains their ring
//! buffers and writes a perf.data-compatible recording.

use std::path::PathBuf;

/// `perfns record`'s command line, as clap parses it.
#[derive(Debug, clap::Args)]
pub struct RecordArgs {
    /// Output file.
    #[arg(short, long, default_value = "perf.data")]
    pub output: PathBuf,
    /// Record every CPU (the default without COMMAND).
    #[arg(short = 'a', long)]
    pub all_cpus: bool,
    /// Command to run and record until it exits.
    #[arg(last = true)]
    pub command: Vec<String>,
}

/// Runs `perfns record`.
pub fn run(_args: RecordArgs) -> anyhow::Result<()> {
    anyhow::bail!("perfns record is not built yet (issue: perfns record on stock kernels)")
}
