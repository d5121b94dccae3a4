//! Record bytes the reader owns, not borrowed from a file's map: what a
//! pipe-mode stream was read into and what compressed records
//! decompressed to. They stay until every record in them has been handed
//! out, as perf keeps its `struct decomp` buffers until their events are
//! flushed, so that memory holds the records of about two rounds.

use std::collections::VecDeque;

/// Where a record's bytes are (its header first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Loc {
    /// In the file's map, at this offset.
    Map(usize),
    /// In chunk `chunk` of a [`Chunks`], at `start`.
    Chunk { chunk: u64, start: usize },
}

#[derive(Debug)]
struct Chunk {
    data: Vec<u8>,
    /// Records in it not yet handed out (or handed out and still lent).
    live: u32,
    /// Still being filled: not to be freed when `live` drops to 0.
    open: bool,
}

/// Chunks of owned record bytes, numbered from 0 in the order made.
#[derive(Debug, Default)]
pub(crate) struct Chunks {
    /// The number of `list[0]`.
    first: u64,
    list: VecDeque<Chunk>,
    /// Releases put off until [`Self::settle`].
    deferred: Vec<u64>,
}

/// No chunks: where the records of a map are not.
pub(crate) static NO_CHUNKS: Chunks = Chunks::new();

impl Chunks {
    /// No chunks yet.
    pub const fn new() -> Self {
        Self {
            first: 0,
            list: VecDeque::new(),
            deferred: Vec::new(),
        }
    }

    /// [`Self::release`] at the next [`Self::settle`]: for a record whose
    /// hold passes to another (a stream's stashed record when it is taken).
    pub fn release_later(&mut self, id: u64) {
        self.deferred.push(id);
    }

    /// Does the releases put off.
    pub fn settle(&mut self) {
        if self.deferred.is_empty() {
            return;
        }
        for id in std::mem::take(&mut self.deferred) {
            if let Some(c) = self.get_mut(id) {
                c.live = c.live.saturating_sub(1);
            }
        }
        self.trim();
    }

    /// Adds `data` as a new chunk, open (see [`Self::close`]).
    pub fn push(&mut self, data: Vec<u8>) -> u64 {
        self.list.push_back(Chunk {
            data,
            live: 0,
            open: true,
        });
        self.first + self.list.len() as u64 - 1
    }

    fn get(&self, id: u64) -> Option<&Chunk> {
        self.list
            .get(usize::try_from(id.checked_sub(self.first)?).ok()?)
    }

    fn get_mut(&mut self, id: u64) -> Option<&mut Chunk> {
        self.list
            .get_mut(usize::try_from(id.checked_sub(self.first)?).ok()?)
    }

    /// The bytes of chunk `id` (empty once it is freed).
    pub fn data(&self, id: u64) -> &[u8] {
        self.get(id).map_or(&[], |c| &c.data)
    }

    /// The bytes of an open chunk, to append to.
    pub fn data_mut(&mut self, id: u64) -> Option<&mut Vec<u8>> {
        self.get_mut(id).filter(|c| c.open).map(|c| &mut c.data)
    }

    /// One more record of chunk `id` is waiting to be handed out.
    pub fn hold(&mut self, id: u64) {
        if let Some(c) = self.get_mut(id) {
            c.live += 1;
        }
    }

    /// A record of chunk `id` is done with.
    pub fn release(&mut self, id: u64) {
        if let Some(c) = self.get_mut(id) {
            c.live = c.live.saturating_sub(1);
        }
        self.trim();
    }

    /// Chunk `id` gets no more bytes: it goes once its records are done.
    pub fn close(&mut self, id: u64) {
        if let Some(c) = self.get_mut(id) {
            c.open = false;
        }
        self.trim();
    }

    /// Frees the chunks whose records are all done.
    fn trim(&mut self) {
        for c in self.list.iter_mut() {
            if !c.open && c.live == 0 && !c.data.is_empty() {
                c.data = Vec::new();
            }
        }
        while self.list.front().is_some_and(|c| !c.open && c.live == 0) {
            self.list.pop_front();
            self.first += 1;
        }
    }

    /// Bytes held, for tests of the memory bound.
    #[cfg(test)]
    pub fn held_bytes(&self) -> usize {
        self.list.iter().map(|c| c.data.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_goes_when_closed_and_its_records_are_done() {
        let mut c = Chunks::default();
        let a = c.push(vec![1; 16]);
        let b = c.push(vec![2; 16]);
        c.hold(a);
        c.hold(b);
        c.close(a);
        c.close(b);
        assert_eq!(c.held_bytes(), 32);
        // b done before a: its bytes go, its slot stays behind a's.
        c.release(b);
        assert_eq!(c.data(b), &[] as &[u8]);
        assert_eq!(c.data(a), &[1; 16]);
        c.release(a);
        assert_eq!(c.held_bytes(), 0);
        assert!(c.list.is_empty());
        // Numbers go on from where they were.
        assert_eq!(c.push(Vec::new()), 2);
    }

    #[test]
    fn an_open_chunk_stays_without_records() {
        let mut c = Chunks::default();
        let a = c.push(vec![1; 8]);
        c.hold(a);
        c.release(a);
        assert_eq!(c.data(a), &[1; 8]);
        c.data_mut(a).expect("open").push(2);
        c.close(a);
        assert_eq!(c.held_bytes(), 0);
        assert!(c.data_mut(a).is_none());
    }
}
