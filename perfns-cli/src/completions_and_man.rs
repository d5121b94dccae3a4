//! Shell completions and man pages, generated from the clap definitions
//! in [`crate::flags`] (clap_complete, clap_mangen), so that they say
//! what the command takes.

use std::io::{self, Write};
use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;

use crate::flags::Cli;

/// Prints `shell`'s completion script for `perfns` on `out`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) -> io::Result<()> {
    // Generated whole first: clap_complete panics on a failed write, and
    // a closed pipe is an error to return, not a crash.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "perfns", &mut script);
    out.write_all(&script)
}

/// Prints perfns(1) on `out`.
pub fn man_page(out: &mut dyn Write) -> io::Result<()> {
    clap_mangen::Man::new(Cli::command()).render(out)
}

/// Writes perfns.1 and a page per subcommand (perfns-record.1, ...) into
/// `dir`, and says which on stderr.
pub fn man_pages(dir: &Path) -> anyhow::Result<()> {
    let mut cli = Cli::command();
    // Subcommands' pages name them `perfns-record` only once built.
    cli.build();
    let mut pages = vec![cli.clone()];
    pages.extend(
        cli.get_subcommands()
            .filter(|c| c.get_name() != "help")
            .cloned(),
    );
    for page in pages {
        let name = page
            .get_display_name()
            .unwrap_or(page.get_name())
            .to_owned();
        let path = dir.join(format!("{name}.1"));
        let mut text = Vec::new();
        clap_mangen::Man::new(page)
            .render(&mut text)
            .with_context(|| format!("rendering {name}(1)"))?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("perfns man: wrote {}", path.display());
    }
    Ok(())
}
