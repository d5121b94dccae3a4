//! Continuous recording (`perfns record --switch-output`): the recording
//! goes on in a new file while the finished one is kept under another
//! name, as perf record's `--switch-output` does.
//!
//! The events stay enabled across a switch and their ring buffers keep
//! what the kernel writes meanwhile, so no record falls between two files:
//! everything drained before the switch is in the finished file, and the
//! new file starts with what the buffers held after it. Each file stands
//! alone: its own header, attrs and tracing data, its own statedump of the
//! tasks alive when it began (so that the report of one file alone knows
//! every task), and its own perfns metadata (the containers known so far,
//! its own losses).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{system, RecordError, Recorder};
use crate::output::Output;
use perfns::attr::EventDesc;
use perfns::container::CpuLoss;

impl Recorder {
    /// Finishes the current file, renamed to `finished` (the recording's
    /// output path is then free), and goes on recording into a new file
    /// at the output path. Returns `finished`'s size.
    pub fn switch_output(&mut self, finished: &Path) -> Result<u64, RecordError> {
        // Everything drained so far, and the losses the kernel has not
        // reported yet, go to the finished file.
        self.drain()?;
        if self.lost_readable {
            self.write_unreported_losses()?;
        }
        self.name_containers(false);
        self.refresh_meta();
        // The finished file gets its name only once it is complete: a
        // reader that takes every OUTPUT.<timestamp> it sees (`perfns
        // serve`) never reads one half written. The next file is made
        // beside it first, so that the writer always has a file.
        let output = self.config.output.clone();
        let mut next_path = output.as_os_str().to_owned();
        next_path.push(".next");
        let next_path = PathBuf::from(next_path);
        // Every file of the series as the first: compressed with -z.
        let next = Output::create(
            &next_path,
            &self.event_descs(),
            self.config.compression_level,
        )?;
        let done = std::mem::replace(&mut self.writer, next);
        done.finish(&self.features)?;
        for (from, to) in [(&output, finished), (&next_path, &output)] {
            std::fs::rename(from, to).map_err(system(format!(
                "renaming {} to {}",
                from.display(),
                to.display()
            )))?;
        }
        let size = std::fs::metadata(finished)
            .map_err(system(format!("{}", finished.display())))?
            .len();
        self.output_id = Some(
            std::fs::metadata(&output)
                .map(|m| (m.dev(), m.ino()))
                .map_err(system(format!("{}", output.display())))?,
        );

        // The new file's own losses, from zero; the session's stay in
        // `losses_switched` for the summary.
        for r in &mut self.rings {
            let l = &mut r.loss;
            if let Some(s) = self.losses_switched.iter_mut().find(|s| s.cpu == l.cpu) {
                s.lost += l.lost;
                s.lost_samples += l.lost_samples;
                s.offline += l.offline;
            } else {
                self.losses_switched.push(*l);
            }
            *l = CpuLoss {
                cpu: l.cpu,
                ..CpuLoss::default()
            };
        }
        // The tasks alive now, as the first file has them from the start.
        let tasks = super::tasks::snapshot_tasks().map_err(system("reading the tasks in /proc"))?;
        self.writer.set_features(&self.features);
        self.write_statedump(&tasks)?;
        // And, with --profile, their mappings: the new file symbolizes
        // alone.
        self.write_mappings(&tasks)?;
        self.registry.learn_snapshot(&tasks);
        self.meta.tasks = tasks;
        self.refresh_meta();
        self.writer.flush_header()?;
        self.flushed_bytes = self.progress.bytes;
        Ok(size)
    }

    /// The events as the file describes them: the ids of the events first
    /// opened on each CPU (events opened again after a CPU came back write
    /// under those ids).
    fn event_descs(&self) -> Vec<EventDesc> {
        self.plan
            .iter()
            .enumerate()
            .map(|(i, e)| EventDesc {
                attr: e.attr.clone(),
                ids: self
                    .rings
                    .iter()
                    .filter(|r| r.renamed.is_empty())
                    .flat_map(|r| r.file_ids_of(i))
                    .collect(),
                name: e.name.clone(),
            })
            .collect()
    }
}

/// The name perf record gives a finished file: the output path, a dot,
/// and the local time as `YYYYmmddHHMMSS` and hundredths of a second
/// (`perf.data.2026120700153012`); a name taken already gets `-N` after
/// it.
pub fn timestamped(output: &Path, now: std::time::SystemTime) -> PathBuf {
    let since = now
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs() as libc::time_t;
    // SAFETY: localtime_r writes the broken-down time into `tm`, which it
    // owns for the call; `secs` is a valid time_t.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are to live locals for the duration of the call.
    let ok = !unsafe { libc::localtime_r(&secs, &mut tm) }.is_null();
    let stamp = if ok {
        format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}{:02}",
            tm.tm_year + 1900,
            tm.tm_mon + 1,
            tm.tm_mday,
            tm.tm_hour,
            tm.tm_min,
            tm.tm_sec,
            since.subsec_millis() / 10
        )
    } else {
        format!("{}{:02}", since.as_secs(), since.subsec_millis() / 10)
    };
    let mut name = output.as_os_str().to_owned();
    name.push(format!(".{stamp}"));
    let mut path = PathBuf::from(&name);
    let mut n = 1;
    while path.exists() {
        let mut again = name.clone();
        again.push(format!("-{n}"));
        path = PathBuf::from(again);
        n += 1;
    }
    path
}

#[cfg(test)]
// A test's unwrap failing is its report.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn finished_files_are_named_as_perf_names_them() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("perf.data");
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_796_601_234_567);
        let p = timestamped(&out, at);
        let name = p.file_name().unwrap().to_str().unwrap().to_owned();
        let stamp = name.strip_prefix("perf.data.").unwrap();
        assert_eq!(stamp.len(), 16, "{name}");
        assert!(stamp.bytes().all(|b| b.is_ascii_digit()), "{name}");
        assert!(stamp.ends_with("5456"), "seconds 54, hundredths 56: {name}");
        std::fs::write(&p, b"").unwrap();
        let again = timestamped(&out, at);
        assert_eq!(again, PathBuf::from(format!("{}-1", p.display())));
    }
}
