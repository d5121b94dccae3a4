//! `perfns run-container`'s flags, and the [`ContainerSpec`] they make.

use crate::run_container::{Cgroup, ContainerSpec, TracerNamespace};

/// `perfns run-container`'s command line.
#[derive(Debug, clap::Args)]
pub struct RunContainerArgs {
    /// The container's name: its hostname, and its cgroup's name.
    pub name: String,
    /// Give it a tracer namespace: when the kernel has them (auto), always
    /// (required) or never (no).
    #[arg(long, value_enum, default_value_t = TracerArg::Auto)]
    pub tracer: TracerArg,
    /// Leave it in the caller's cgroup.
    #[arg(long)]
    pub no_cgroup: bool,
    /// The command to run in it.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// `--tracer`: whether the container gets a tracer namespace.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum TracerArg {
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
