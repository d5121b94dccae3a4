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
    /// Limit the ring buffers that tracer-scoped readers in the container
    /// (and in containers nested in it) may map together: SIZE in bytes,
    /// or with K, M or G. Needs the tracer namespace, a kernel with the
    /// series' budget, and CAP_SYS_ADMIN over this tracer namespace's owner
    /// (root on the host, or the root of the container this runs in).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub trace_buffer_limit: Option<u64>,
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
            trace_buffer_limit: args.trace_buffer_limit,
        }
    }
}

/// A size in bytes: a number, with an optional K, M or G (powers of 1024).
fn parse_size(text: &str) -> Result<u64, String> {
    let (digits, shift) = match text.as_bytes().last() {
        Some(b'k' | b'K') => (&text[..text.len() - 1], 10),
        Some(b'm' | b'M') => (&text[..text.len() - 1], 20),
        Some(b'g' | b'G') => (&text[..text.len() - 1], 30),
        _ => (text, 0),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("{text:?}: a size in bytes, with K, M or G if you like (256K, 8M)"))
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_take_k_m_g() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("256K"), Ok(256 << 10));
        assert_eq!(parse_size("8m"), Ok(8 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert!(parse_size("0").is_err());
        assert!(parse_size("1.5M").is_err());
        assert!(parse_size("K").is_err());
        assert!(parse_size("99999999999999G").is_err());
    }
}
