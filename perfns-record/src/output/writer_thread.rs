//! A perf.data file written by a thread of its own, so that the drain never
//! waits for the disk.
//!
//! `PerfFileWriter` gathers records and writes them out 8 MiB at a time; on
//! a loaded machine one such write into the page cache took 40 to 117 ms
//! (strace -T on the recorder, perfns-record/benches/README.md), while a
//! 512 KiB ring buffer fills in 3 ms under a system-call-heavy load: every
//! write the drain made lost events. Here the drain only copies the
//! records into a batch, and a thread takes the batches in order and
//! writes them. The queue between them is bounded ([`QUEUED_BATCHES`]): a
//! disk slower than the records for longer than the queue holds makes the
//! drain wait, and the ring buffers then fill and report their losses as
//! before. The first failed write stops the thread; the drain gets its
//! error at the next hand-over, once the thread has ended, so that the file
//! can be read back for what it kept.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::thread::JoinHandle;

use perfns::perf_data::{Features, PerfDataError, PerfFileWriter};
use perfns::record::{RawData, RecordHeader};

use super::each_record;

/// A batch is handed to the thread once it holds this many bytes: a few
/// hand-overs (thread wake-ups) per 10 MB of records.
const BATCH_BYTES: usize = 1 << 20;

/// Batches waiting for the thread at most: with [`BATCH_BYTES`], some 32
/// MiB, a quarter of a second of the heaviest load measured (60 MB/s of
/// system-call records) against the longest write seen, 117 ms.
const QUEUED_BATCHES: usize = 32;

/// How the bytes of a part of a batch go to the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    /// As the ring held them (`PerfFileWriter::write_records`).
    AsRing,
    /// Record by record (`PerfFileWriter::write_record`, which stores a
    /// TRACER_NAMESPACES as perf reads it).
    OneByOne,
    /// PERF_RECORD_FINISHED_ROUND, no bytes.
    Round,
}

/// Records in the order they were drained: their bytes, and how each part
/// is written, each part ending where the next begins.
#[derive(Debug, Default)]
struct Batch {
    bytes: Vec<u8>,
    parts: Vec<(How, usize)>,
}

impl Batch {
    /// Notes that the bytes up to the end are written `how`.
    fn end_part(&mut self, how: How) {
        match self.parts.last_mut() {
            Some((last, end)) if *last == how && how != How::Round => *end = self.bytes.len(),
            _ => self.parts.push((how, self.bytes.len())),
        }
    }

    /// Writes the batch to `file`, in order.
    fn write_to(&self, file: &mut PerfFileWriter) -> Result<(), PerfDataError> {
        let mut start = 0;
        for &(how, end) in &self.parts {
            let bytes = &self.bytes[start..end];
            match how {
                How::AsRing => file.write_records(RawData::Single(bytes))?,
                How::OneByOne => {
                    each_record(bytes, |header, body| file.write_record(header, body))?
                }
                How::Round => file.write_finished_round()?,
            }
            start = end;
        }
        Ok(())
    }
}

/// What the thread is asked to do, in order.
enum Job {
    Write(Batch),
    /// A record whose header does not give its body's size: the writer
    /// refuses it, saying where (in a batch its header would misplace the
    /// records after it).
    Malformed(RecordHeader, Vec<u8>),
    Features(Box<Features>),
    Flush,
    CompressionRatio(Sender<Option<f64>>),
}

/// A perf.data file that a thread writes: records are handed over in
/// batches; [`Self::finish`] waits for the thread and finishes the file.
#[derive(Debug)]
pub(crate) struct ThreadedFile {
    /// The file's path, for errors.
    path: PathBuf,
    batch: Batch,
    jobs: Option<SyncSender<Job>>,
    /// Batches the thread has written, emptied, to be filled again.
    spare: Receiver<Batch>,
    thread: Option<JoinHandle<Result<PerfFileWriter, PerfDataError>>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Write(_) => "Write",
            Self::Malformed(..) => "Malformed",
            Self::Features(_) => "Features",
            Self::Flush => "Flush",
            Self::CompressionRatio(_) => "CompressionRatio",
        })
    }
}

impl ThreadedFile {
    /// Starts the thread that writes to `file`, at `path`.
    pub fn new(file: PerfFileWriter, path: &Path) -> Result<Self, PerfDataError> {
        let (jobs, queue) = mpsc::sync_channel(QUEUED_BATCHES);
        let (give_back, spare) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("perfns-writer".into())
            .spawn(move || write_jobs(file, queue, give_back))
            .map_err(|source| PerfDataError::Io {
                path: path.to_path_buf(),
                what: "starting the thread that writes the recording",
                source,
            })?;
        Ok(Self {
            path: path.to_path_buf(),
            batch: Batch::default(),
            jobs: Some(jobs),
            spare,
            thread: Some(thread),
        })
    }

    /// Appends a record, written as `PerfFileWriter::write_record` writes it.
    pub fn write_record(
        &mut self,
        header: RecordHeader,
        body: RawData<'_>,
    ) -> Result<(), PerfDataError> {
        if usize::from(header.size) != RecordHeader::SIZE + body.len() {
            self.hand_over()?;
            let mut bytes = Vec::with_capacity(body.len());
            body.append_to(&mut bytes);
            return self.send(Job::Malformed(header, bytes));
        }
        self.batch.bytes.extend_from_slice(&header.to_ne_bytes());
        body.append_to(&mut self.batch.bytes);
        self.batch.end_part(How::OneByOne);
        self.hand_over_if_full()
    }

    /// Appends records as the ring holds them
    /// (`PerfFileWriter::write_records`).
    pub fn write_records(&mut self, records: RawData<'_>) -> Result<(), PerfDataError> {
        records.append_to(&mut self.batch.bytes);
        self.batch.end_part(How::AsRing);
        self.hand_over_if_full()
    }

    /// Appends PERF_RECORD_FINISHED_ROUND.
    pub fn write_finished_round(&mut self) -> Result<(), PerfDataError> {
        self.batch.end_part(How::Round);
        Ok(())
    }

    /// The features the thread writes at its next flush. (If the thread
    /// has ended at a failed write, the next hand-over says so.)
    pub fn set_features(&mut self, features: &Features) {
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(Job::Features(Box::new(features.clone())));
        }
    }

    /// Hands over what was gathered and asks the thread to write it and
    /// the features (`PerfFileWriter::flush_header`); does not wait.
    pub fn flush_header(&mut self) -> Result<(), PerfDataError> {
        self.hand_over()?;
        self.send(Job::Flush)
    }

    /// With `-z`: bytes of records per byte written so far; waits for the
    /// thread to write what was handed over.
    pub fn compression_ratio(&mut self) -> Result<Option<f64>, PerfDataError> {
        self.hand_over()?;
        let (reply, ratio) = mpsc::channel();
        self.send(Job::CompressionRatio(reply))?;
        match ratio.recv() {
            Ok(r) => Ok(r),
            // The thread ended at a failed write.
            Err(_) => Err(self.stopped()),
        }
    }

    /// Waits for the thread to write everything, then finishes the file
    /// with `features`.
    pub fn finish(mut self, features: &Features) -> Result<(), PerfDataError> {
        self.hand_over()?;
        self.end()?.finish(features)
    }

    fn hand_over_if_full(&mut self) -> Result<(), PerfDataError> {
        if self.batch.bytes.len() >= BATCH_BYTES {
            self.hand_over()?;
        }
        Ok(())
    }

    /// Gives the batch to the thread, and starts another (one the thread
    /// gave back, if there is one).
    fn hand_over(&mut self) -> Result<(), PerfDataError> {
        if self.batch.parts.is_empty() {
            return Ok(());
        }
        let next = self.spare.try_recv().unwrap_or_default();
        let full = std::mem::replace(&mut self.batch, next);
        self.send(Job::Write(full))
    }

    fn send(&mut self, job: Job) -> Result<(), PerfDataError> {
        match self.jobs.as_ref().map(|j| j.send(job)) {
            Some(Ok(())) => Ok(()),
            // The thread ended at a failed write, or ended before.
            _ => Err(self.stopped()),
        }
    }

    /// The error the thread ended with.
    fn stopped(&mut self) -> PerfDataError {
        match self.end() {
            Err(e) => e,
            Ok(_) => self.ended_already(),
        }
    }

    fn ended_already(&self) -> PerfDataError {
        PerfDataError::Io {
            path: self.path.clone(),
            what: "writing the recording",
            source: std::io::Error::other("its writer thread ended at an earlier failure"),
        }
    }

    /// Lets the thread write what it was given and end; returns the file,
    /// or the error the thread ended with.
    fn end(&mut self) -> Result<PerfFileWriter, PerfDataError> {
        self.jobs = None;
        let Some(thread) = self.thread.take() else {
            return Err(self.ended_already());
        };
        match thread.join() {
            Ok(result) => result,
            // A panic in the writer is a bug: carry it on here.
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl Drop for ThreadedFile {
    /// An unfinished file (a recording that failed) is left as the thread's
    /// last flush made it, once the thread has written what it was given.
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            // Its error or panic was the recording's end, said already or
            // being unwound.
            let _ = thread.join();
        }
    }
}

/// The thread: does each job in turn until the sender is gone, or until a
/// write fails.
fn write_jobs(
    mut file: PerfFileWriter,
    queue: Receiver<Job>,
    give_back: Sender<Batch>,
) -> Result<PerfFileWriter, PerfDataError> {
    // Without it the file is the same; the drain only waits for a CPU
    // after some hand-overs.
    let _ = crate::sched::never_preempt_on_wakeup();
    for job in queue {
        match job {
            Job::Write(mut batch) => {
                batch.write_to(&mut file)?;
                batch.bytes.clear();
                batch.parts.clear();
                // Gone once the recording is finishing: nothing to reuse.
                let _ = give_back.send(batch);
            }
            Job::Malformed(header, body) => file.write_record(header, RawData::Single(&body))?,
            Job::Features(f) => file.set_features(&f),
            Job::Flush => file.flush_header()?,
            Job::CompressionRatio(reply) => {
                let _ = reply.send(file.compression_ratio());
            }
        }
    }
    Ok(file)
}

#[cfg(test)]
// A test's unwrap failing is its report.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use perfns::attr::{flags, EventAttr, EventDesc};
    use perfns::record::RecordType;

    fn event() -> EventDesc {
        EventDesc {
            attr: EventAttr {
                sample_type: crate::events::SAMPLE_FORMAT,
                flags: flags::SAMPLE_ID_ALL,
                ..Default::default()
            },
            ids: vec![7],
            name: "dummy".into(),
        }
    }

    fn record(kind: RecordType, body: &[u8]) -> Vec<u8> {
        let header = RecordHeader {
            kind,
            misc: 0,
            size: (RecordHeader::SIZE + body.len()) as u16,
        };
        [&header.to_ne_bytes()[..], body].concat()
    }

    /// A call on a writer.
    enum Call {
        /// `write_record` of a record (header and body).
        One(Vec<u8>),
        /// `write_records`, split at this byte as where a ring wrapped.
        Ring(Vec<u8>, usize),
        Round,
        Flush,
    }

    fn header_of(r: &[u8]) -> RecordHeader {
        RecordHeader::from_bytes::<byteorder::NativeEndian>(
            r[..RecordHeader::SIZE].try_into().unwrap(),
        )
    }

    #[test]
    fn the_thread_writes_the_file_the_writer_would() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("direct"), dir.path().join("threaded"));
        let mut direct = PerfFileWriter::create(&a, &[event()]).unwrap();
        let mut threaded =
            ThreadedFile::new(PerfFileWriter::create(&b, &[event()]).unwrap(), &b).unwrap();
        let first = Features {
            hostname: Some("first".into()),
            ..Features::default()
        };
        direct.set_features(&first);
        threaded.set_features(&first);
        // Records one by one (a TRACER_NAMESPACES among them, which the
        // writer stores as NAMESPACES), records as a ring holds them (split
        // where the ring wrapped), rounds; more than two batches in all.
        let ring: Vec<u8> = (0..40_000u32)
            .flat_map(|i| record(RecordType::SAMPLE, &u64::from(i).to_ne_bytes()))
            .collect();
        let mut calls = Vec::new();
        for round in 0..4u8 {
            calls.push(Call::One(record(RecordType::COMM, &[round; 40])));
            calls.push(Call::One(record(
                RecordType::TRACER_NAMESPACES,
                &[round; 40],
            )));
            calls.push(Call::Ring(ring.clone(), 16 * (1000 + usize::from(round))));
            calls.push(Call::Round);
            if round == 1 {
                calls.push(Call::Flush);
            }
        }
        for call in &calls {
            match call {
                Call::One(r) => {
                    let body = RawData::Single(&r[RecordHeader::SIZE..]);
                    direct.write_record(header_of(r), body).unwrap();
                    threaded.write_record(header_of(r), body).unwrap();
                }
                Call::Ring(r, at) => {
                    let (x, y) = r.split_at(*at);
                    direct.write_records(RawData::Split(x, y)).unwrap();
                    threaded.write_records(RawData::Split(x, y)).unwrap();
                }
                Call::Round => {
                    direct.write_finished_round().unwrap();
                    threaded.write_finished_round().unwrap();
                }
                Call::Flush => {
                    direct.flush_header().unwrap();
                    threaded.flush_header().unwrap();
                }
            }
        }
        let last = Features {
            hostname: Some("last".into()),
            ..Features::default()
        };
        direct.finish(&last).unwrap();
        threaded.finish(&last).unwrap();
        let (a, b) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
        assert!(a.len() > 2 * BATCH_BYTES, "{} bytes", a.len());
        assert!(a == b, "the files differ");
    }

    #[test]
    fn the_writer_thread_does_not_preempt_the_drain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("threaded");
        let mut threaded =
            ThreadedFile::new(PerfFileWriter::create(&path, &[event()]).unwrap(), &path).unwrap();
        // Answered once the thread has set itself up.
        threaded.compression_ratio().unwrap();
        let mut writers = 0;
        for task in std::fs::read_dir("/proc/thread-self/..").unwrap() {
            let task = task.unwrap().path();
            let Ok(comm) = std::fs::read_to_string(task.join("comm")) else {
                continue; // ended meanwhile
            };
            if comm.trim_end() != "perfns-writer" {
                continue;
            }
            let tid: i32 = task.file_name().unwrap().to_str().unwrap().parse().unwrap();
            let attr = crate::sched::attr_of(tid).unwrap();
            assert_eq!(attr.sched_policy, libc::SCHED_BATCH as u32, "{attr:?}");
            writers += 1;
        }
        assert!(writers >= 1, "no perfns-writer thread in /proc/self/task");
        threaded.finish(&Features::default()).unwrap();
    }

    #[test]
    fn a_record_whose_size_is_wrong_is_refused_where_it_would_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("threaded");
        let mut threaded =
            ThreadedFile::new(PerfFileWriter::create(&path, &[event()]).unwrap(), &path).unwrap();
        threaded
            .write_record(
                RecordHeader {
                    kind: RecordType::COMM,
                    misc: 0,
                    size: 100,
                },
                RawData::Single(&[0; 40]),
            )
            .unwrap();
        // Read by its header's size, it would take in this one.
        let next = record(RecordType::COMM, &[1; 40]);
        threaded.write_records(RawData::Single(&next)).unwrap();
        // The thread refuses it and ends; the file's end says so.
        let err = threaded
            .finish(&Features::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cannot write: COMM record header says 100 bytes, but it has 48"),
            "{err}"
        );
    }
}
