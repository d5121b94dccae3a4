//! `perfns report --format parquet`: one row per container per interval,
//! for engines that read Parquet across many machines' recordings (DuckDB,
//! ClickHouse, Spark). Schema `perfns-containers/1`, documented in
//! docs/report-parquet.md.
//!
//! [`rows`] is a pure function from a report to rows; [`write`] writes rows
//! with the parquet crate's column writers (no Arrow: the schema is flat).

use std::io::Write;
use std::sync::Arc;

use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

use crate::model::Report;

/// The schema's name and version, in the file's key-value metadata
/// (`perfns.schema`). Columns are only ever added within a version.
pub const SCHEMA: &str = "perfns-containers/1";

/// One container's figures over one interval: its own tasks', so that a
/// sum over rows counts each task once (`parent` gives the nesting for
/// roll-ups).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// HEADER_HOSTNAME of the recording.
    pub host: Option<String>,
    /// HEADER_OSRELEASE.
    pub kernel: Option<String>,
    /// The recording's path as given to the report.
    pub recording: String,
    /// The interval, perf clock (CLOCK_MONOTONIC) nanoseconds: start
    /// included, end excluded (the whole recording: its first to last
    /// record, both included).
    pub start_ns: i64,
    /// See `start_ns`.
    pub end_ns: i64,
    /// The report's container key (`host`, `pidns:INODE`, `cgroup:ID`).
    pub key: String,
    /// Its name as the report shows it.
    pub name: String,
    /// Its runtime.
    pub runtime: Option<String>,
    /// The runtime's container id.
    pub id: Option<String>,
    /// Its labels, as a JSON object.
    pub labels: Option<String>,
    /// Kubernetes namespace, pod and container.
    pub kubernetes: Option<(String, String, String)>,
    /// The parent container's key.
    pub parent: Option<String>,
    /// Its cgroup path.
    pub cgroup: Option<String>,
    /// The figures, in [`FIGURES`] order.
    pub figures: [i64; FIGURES.len()],
}

/// The figure columns, all int64, all of the container's own tasks.
pub const FIGURES: [&str; 9] = [
    "cpu_time_ns",
    "cpu_samples",
    "pages_allocated",
    "pages_freed",
    "syscalls",
    "syscall_errors",
    "syscalls_timed",
    "syscall_latency_total_ns",
    "syscall_latency_max_ns",
];

/// A u64 figure as Parquet's int64 (a figure past 2^63 saturates).
fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The rows of `report`, every container's own figures over `[start_ns,
/// end_ns)`.
pub fn rows(report: &Report, start_ns: u64, end_ns: u64) -> Vec<Row> {
    let r = &report.header.recording;
    report
        .containers
        .iter()
        .map(|c| {
            let f = &c.own;
            Row {
                host: r.hostname.clone(),
                kernel: r.kernel.clone(),
                recording: report.header.file.clone(),
                start_ns: int(start_ns),
                end_ns: int(end_ns),
                key: c.key.clone(),
                name: c.name.clone(),
                runtime: c.runtime.clone(),
                id: c.id.clone(),
                labels: c.labels_json(),
                kubernetes: c
                    .kubernetes
                    .as_ref()
                    .map(|k| (k.namespace.clone(), k.pod.clone(), k.container.clone())),
                parent: c.parent.clone(),
                cgroup: c.cgroup.clone(),
                figures: [
                    f.cpu.time_ns,
                    f.cpu.samples,
                    f.memory.pages_allocated,
                    f.memory.pages_freed,
                    f.syscalls.calls,
                    f.syscalls.errors,
                    f.syscalls.timed_calls,
                    f.syscalls.latency_total_ns,
                    f.syscalls.latency_max_ns,
                ]
                .map(int),
            }
        })
        .collect()
}

/// The string columns: name, whether it may be null, and its value in a
/// row.
type StringColumn = (&'static str, bool, fn(&Row) -> Option<&str>);

const STRINGS: [StringColumn; 13] = [
    ("host", true, |r| r.host.as_deref()),
    ("kernel", true, |r| r.kernel.as_deref()),
    ("recording", false, |r| Some(&r.recording)),
    ("key", false, |r| Some(&r.key)),
    ("name", false, |r| Some(&r.name)),
    ("runtime", true, |r| r.runtime.as_deref()),
    ("id", true, |r| r.id.as_deref()),
    ("labels", true, |r| r.labels.as_deref()),
    ("kubernetes_namespace", true, |r| {
        r.kubernetes.as_ref().map(|k| k.0.as_str())
    }),
    ("kubernetes_pod", true, |r| {
        r.kubernetes.as_ref().map(|k| k.1.as_str())
    }),
    ("kubernetes_container", true, |r| {
        r.kubernetes.as_ref().map(|k| k.2.as_str())
    }),
    ("parent", true, |r| r.parent.as_deref()),
    ("cgroup", true, |r| r.cgroup.as_deref()),
];

/// The Parquet schema, as the message type the parquet crate parses.
pub fn schema_text() -> String {
    let mut s = String::from("message perfns_containers {\n");
    for (name, optional, _) in &STRINGS {
        let rep = if *optional { "optional" } else { "required" };
        s.push_str(&format!("  {rep} binary {name} (STRING);\n"));
    }
    for name in ["start_ns", "end_ns"].iter().chain(&FIGURES) {
        s.push_str(&format!("  required int64 {name};\n"));
    }
    s.push('}');
    s
}

/// Writing the Parquet file failed.
#[derive(Debug, thiserror::Error)]
#[error("writing Parquet: {0}")]
pub struct ParquetError(#[from] parquet::errors::ParquetError);

/// Writes `rows` as one Parquet file (one row group) to `out`.
pub fn write<W: Write + Send>(out: W, rows: &[Row]) -> Result<(), ParquetError> {
    let schema = Arc::new(parse_message_type(&schema_text())?);
    let props = WriterProperties::builder()
        .set_key_value_metadata(Some(vec![parquet::file::metadata::KeyValue::new(
            "perfns.schema".to_owned(),
            SCHEMA.to_owned(),
        )]))
        .set_created_by(format!("perfns {}", env!("CARGO_PKG_VERSION")))
        .build();
    let mut writer = SerializedFileWriter::new(out, schema, Arc::new(props))?;
    let mut group = writer.next_row_group()?;
    let mut column = 0;
    while let Some(mut col) = group.next_column()? {
        if let Some((_, optional, value)) = STRINGS.get(column) {
            let present: Vec<Option<&str>> = rows.iter().map(value).collect();
            let values: Vec<ByteArray> = present
                .iter()
                .flatten()
                .map(|s| ByteArray::from(s.as_bytes().to_vec()))
                .collect();
            let levels: Vec<i16> = present.iter().map(|v| i16::from(v.is_some())).collect();
            col.typed::<ByteArrayType>().write_batch(
                &values,
                optional.then_some(levels.as_slice()),
                None,
            )?;
        } else {
            let i = column - STRINGS.len();
            let values: Vec<i64> = rows
                .iter()
                .map(|r| match i {
                    0 => r.start_ns,
                    1 => r.end_ns,
                    _ => r.figures[i - 2],
                })
                .collect();
            col.typed::<Int64Type>().write_batch(&values, None, None)?;
        }
        col.close()?;
        column += 1;
    }
    group.close()?;
    writer.close()?;
    Ok(())
}

#[cfg(test)]
// A test's unwrap failing is its report.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    fn row(name: &str, cpu: i64, id: Option<&str>) -> Row {
        Row {
            host: Some("vm".into()),
            kernel: None,
            recording: "a.data".into(),
            start_ns: 10,
            end_ns: 20,
            key: format!("pidns:{cpu}"),
            name: name.into(),
            runtime: Some("docker".into()),
            id: id.map(Into::into),
            labels: None,
            kubernetes: None,
            parent: None,
            cgroup: None,
            figures: [cpu, 0, 0, 0, 7, 1, 7, 70, 20],
        }
    }

    #[test]
    fn rows_read_back_with_their_nulls() {
        let rows = [row("web", 5, Some("abc")), row("db", 6, None)];
        let mut bytes = Vec::new();
        write(&mut bytes, &rows).unwrap();
        let reader = SerializedFileReader::new(bytes::Bytes::from(bytes)).unwrap();
        let meta = reader.metadata().file_metadata();
        assert_eq!(meta.num_rows(), 2);
        let kv = meta.key_value_metadata().unwrap();
        assert_eq!(kv[0].value.as_deref(), Some(SCHEMA));
        let read: Vec<String> = reader
            .get_row_iter(None)
            .unwrap()
            .map(|r| r.unwrap().to_string())
            .collect();
        assert!(
            read[0].contains("name: \"web\"") && read[0].contains("id: \"abc\""),
            "{}",
            read[0]
        );
        assert!(
            read[1].contains("id: null") && read[1].contains("cpu_time_ns: 6"),
            "{}",
            read[1]
        );
    }
}
