//! A live session's output (`crate::session::live`): the records each
//! pass drains, held until every record older than them has been drained
//! too, then handed on in time order, parsed.

use byteorder::NativeEndian;
use perfns::attr::{AttrSet, EventDesc};
use perfns::error::ParseError;
use perfns::record::{RawData, RawRecord, Record, RecordHeader};

/// How many parse errors [`LiveRecords`] quotes; the rest are counted.
const QUOTED_ERRORS: usize = 3;

/// A held record: where its bytes are, and its time.
#[derive(Debug, Clone, Copy)]
struct Held {
    time: u64,
    /// Arrival order, for records of one time.
    seq: u64,
    offset: usize,
    /// Its size, header included.
    size: u16,
}

/// The records a live recorder drained, held until every record older
/// than them has been drained too, then handed on in time order.
#[derive(Debug)]
pub struct LiveRecords {
    events: AttrSet,
    /// The held records, header after header, as the rings held them.
    bytes: Vec<u8>,
    held: Vec<Held>,
    /// Bytes of `bytes` whose records were handed on.
    dead_bytes: usize,
    seq: u64,
    /// The newest time of the pass being drained, and of the one before.
    round_newest: u64,
    previous_round_newest: u64,
    /// Records up to this time may be handed on.
    ready_until: u64,
    /// The newest time handed on.
    handed_until: u64,
    first_time: Option<u64>,
    /// Records that could not be decoded since the last interval.
    pub(crate) errors: u64,
    /// The first few errors' messages, for the user.
    quoted_errors: Vec<String>,
}

impl LiveRecords {
    /// Held records of the events `descs` describe.
    pub(crate) fn new(descs: Vec<EventDesc>) -> Result<Self, ParseError> {
        let events = AttrSet::new(descs)?;
        Ok(Self {
            events,
            bytes: Vec::new(),
            held: Vec::new(),
            dead_bytes: 0,
            seq: 0,
            round_newest: 0,
            previous_round_newest: 0,
            ready_until: 0,
            handed_until: 0,
            first_time: None,
            errors: 0,
            quoted_errors: Vec::new(),
        })
    }

    /// The events.
    pub fn events(&self) -> &AttrSet {
        &self.events
    }

    /// The newest time handed on.
    pub fn handed_until(&self) -> u64 {
        self.handed_until
    }

    /// The first record's time.
    pub fn first_time(&self) -> Option<u64> {
        self.first_time
    }

    /// The first records that could not be decoded, with why.
    pub fn quoted_errors(&self) -> &[String] {
        &self.quoted_errors
    }

    /// The time of a record, if it has one.
    fn time_of(&self, raw: &RawRecord<'_>) -> Option<u64> {
        let event = self.events.index_of::<NativeEndian>(raw).ok()?;
        self.events
            .layout(event)
            .record_time::<NativeEndian>(raw.header.kind, &raw.data)
            .filter(|&t| t != 0)
    }

    /// Holds a record. One without a time (the statedump's) goes with the
    /// newest handed on.
    pub(crate) fn push(&mut self, header: RecordHeader, body: RawData<'_>) {
        let raw = RawRecord { header, data: body };
        let time = match self.time_of(&raw) {
            Some(t) => {
                self.round_newest = self.round_newest.max(t);
                self.first_time = Some(self.first_time.map_or(t, |f| f.min(t)));
                t
            }
            None => self.handed_until,
        };
        let offset = self.bytes.len();
        // The size as it is: the header says it, the body has it.
        let header = RecordHeader {
            size: (RecordHeader::SIZE + body.len()) as u16,
            ..header
        };
        self.bytes.extend_from_slice(&header.to_ne_bytes());
        body.append_to(&mut self.bytes);
        self.held.push(Held {
            time,
            seq: self.seq,
            offset,
            size: header.size,
        });
        self.seq += 1;
    }

    /// Holds the records of `bytes`, header after header.
    pub(crate) fn push_all(&mut self, bytes: &[u8]) {
        let _ = super::each_record(bytes, |header, body| {
            self.push(header, body);
            Ok(())
        });
    }

    /// A pass over the rings ended: the records up to the newest time of
    /// the pass before may be handed on (perf's ordered events' rule).
    pub(crate) fn end_round(&mut self) {
        self.ready_until = self.ready_until.max(self.previous_round_newest);
        self.previous_round_newest = self.round_newest;
    }

    /// Hands on, in time order, the records that are ready (`all`: every
    /// one held); returns how many.
    pub fn hand_on(&mut self, all: bool, on_record: &mut dyn FnMut(usize, &Record<'_>)) -> u64 {
        let limit = if all { u64::MAX } else { self.ready_until };
        self.held.sort_unstable_by_key(|h| (h.time, h.seq));
        let ready = self.held.partition_point(|h| h.time <= limit);
        if ready == 0 {
            return 0;
        }
        for h in &self.held[..ready] {
            let Some(head) = self.bytes[h.offset..].first_chunk::<{ RecordHeader::SIZE }>() else {
                continue;
            };
            let header = RecordHeader::from_bytes::<NativeEndian>(head);
            let body = &self.bytes[h.offset + RecordHeader::SIZE..h.offset + header.size as usize];
            let raw = RawRecord {
                header,
                data: RawData::Single(body),
            };
            let parsed = self
                .events
                .index_of::<NativeEndian>(&raw)
                .and_then(|event| {
                    let attr = &self.events.events()[event].attr;
                    raw.parse::<NativeEndian>(attr).map(|r| (event, r))
                });
            match parsed {
                Ok((event, record)) => on_record(event, &record),
                Err(e) => {
                    self.errors += 1;
                    if self.quoted_errors.len() < QUOTED_ERRORS {
                        self.quoted_errors.push(e.to_string());
                    }
                }
            }
            self.handed_until = self.handed_until.max(h.time);
        }
        let handed_bytes: usize = self.held[..ready].iter().map(|h| h.size as usize).sum();
        self.held.drain(..ready);
        self.dead_bytes += handed_bytes;
        // The bytes of records handed on are given back once they are most
        // of the buffer, not at every pass: copying the records still held
        // at each pass would cost what they weigh, again and again, while
        // records come fast.
        if self.held.is_empty() {
            self.bytes.clear();
            self.dead_bytes = 0;
        } else if self.dead_bytes * 2 > self.bytes.len() {
            let mut bytes = Vec::with_capacity(self.bytes.len() - self.dead_bytes);
            for h in &mut self.held {
                let offset = bytes.len();
                bytes.extend_from_slice(&self.bytes[h.offset..h.offset + h.size as usize]);
                h.offset = offset;
            }
            self.bytes = bytes;
            self.dead_bytes = 0;
        }
        ready as u64
    }
}

#[cfg(test)]
// A test's unwrap failing is its report.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use perfns::attr::{EventAttr, SampleFormat};
    use perfns::record::RecordType;

    /// A sample of event id 7 at `time`: identifier, tid, time.
    fn sample(time: u64) -> (RecordHeader, Vec<u8>) {
        let body: Vec<u8> = [7u64, 1, time]
            .iter()
            .flat_map(|x| x.to_ne_bytes())
            .collect();
        let header = RecordHeader {
            kind: RecordType::SAMPLE,
            misc: 0,
            size: (RecordHeader::SIZE + body.len()) as u16,
        };
        (header, body)
    }

    fn records() -> LiveRecords {
        let attr = EventAttr {
            sample_type: SampleFormat::IDENTIFIER | SampleFormat::TID | SampleFormat::TIME,
            ..Default::default()
        };
        LiveRecords::new(vec![EventDesc {
            attr,
            ids: vec![7],
            name: "e".into(),
        }])
        .unwrap()
    }

    fn times(l: &mut LiveRecords, all: bool) -> Vec<u64> {
        let mut out = Vec::new();
        l.hand_on(all, &mut |_, r| {
            if let Record::Sample(s) = r {
                out.push(s.id.time.unwrap());
            }
        });
        out
    }

    #[test]
    fn records_wait_for_the_pass_after_theirs_and_come_in_time_order() {
        let mut l = records();
        // Pass 1: CPU 0 read first (times 10, 30), then CPU 1 (20, 40).
        for t in [10, 30, 20, 40] {
            let (h, b) = sample(t);
            l.push(h, RawData::Single(&b));
        }
        l.end_round();
        assert_eq!(
            times(&mut l, false),
            [] as [u64; 0],
            "nothing before pass 2"
        );
        // Pass 2: CPU 0's record of time 35 came after its ring was read.
        for t in [35, 50] {
            let (h, b) = sample(t);
            l.push(h, RawData::Single(&b));
        }
        l.end_round();
        assert_eq!(times(&mut l, false), [10, 20, 30, 35, 40]);
        assert_eq!(l.handed_until(), 40);
        assert_eq!(times(&mut l, true), [50]);
        assert!(l.bytes.is_empty() && l.held.is_empty(), "nothing is kept");
    }
}
