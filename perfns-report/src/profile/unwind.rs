//! DWARF unwinding of `--call-graph dwarf` samples: the user part of a
//! stack recovered, as perf does with libdw, from the sample's user
//! registers (IP, SP, BP) and its copy of the user stack, with each mapped
//! file's `.eh_frame` (framehop's x86-64 unwinder).
//!
//! A process's unwinder has one module per executable mapping whose file
//! [`super::symbolize`] trusts (the same file, checked by build-id). An
//! unwind yields addresses, the sample's IP first, then return addresses;
//! it stops, keeping what it found, at an address in no such module, at
//! the end of the copied stack, or after [`MAX_FRAMES`].

use std::ops::Range;
use std::sync::Arc;

use framehop::x86_64::{CacheX86_64, UnwindRegsX86_64, UnwinderX86_64};
use framehop::{ExplicitModuleSectionInfo, Module, Unwinder};
use object::{Object, ObjectSection};
use perfns::record::UserRegs;

/// The frames an unwind gives at most: perf's default
/// `kernel.perf_event_max_stack`.
pub(crate) const MAX_FRAMES: usize = 127;

/// `PERF_REG_X86_BP`, `_SP` and `_IP`: the registers unwinding starts from
/// (arch/x86/include/uapi/asm/perf_regs.h).
const REG_BP: u32 = 6;
const REG_SP: u32 = 7;
const REG_IP: u32 = 8;

/// A section's address in its file (SVMA) and its bytes.
#[derive(Debug, Clone)]
struct Section {
    svma: Range<u64>,
    data: Arc<[u8]>,
}

/// What unwinding needs of an ELF file: `.eh_frame` and its index
/// `.eh_frame_hdr`, `.text` (framehop reads prologues and epilogues, where
/// the CFI is not yet or no longer exact) and `.got`'s address.
#[derive(Debug, Clone)]
pub(crate) struct UnwindSections {
    eh_frame: Section,
    eh_frame_hdr: Option<Section>,
    text: Option<Section>,
    got: Option<Range<u64>>,
}

impl UnwindSections {
    /// The unwind sections of `file`; `None` without a `.eh_frame` with
    /// bytes (a debug file's are empty: NOBITS).
    pub(crate) fn of_elf(file: &object::File<'_>) -> Option<Self> {
        let section = |name: &str| {
            let s = file.section_by_name(name)?;
            let data = s.data().ok().filter(|d| !d.is_empty())?;
            Some(Section {
                svma: s.address()..s.address() + s.size(),
                data: data.into(),
            })
        };
        Some(Self {
            eh_frame: section(".eh_frame")?,
            eh_frame_hdr: section(".eh_frame_hdr"),
            text: section(".text"),
            got: file
                .section_by_name(".got")
                .map(|s| s.address()..s.address() + s.size()),
        })
    }
}

/// Why an unwind stopped before the stack's outermost frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// No 64-bit user registers with IP, SP and BP (ABI none: a kernel
    /// thread, or registers not recorded).
    NoRegisters,
    /// The last address is in no mapped file with unwind information.
    UnknownModule,
    /// The next frame's data lies past the copied stack, or the stack
    /// read is inconsistent (the unwinder did not advance).
    EndOfStack,
}

/// The unwinders' rule cache, shared by all processes (framehop's keys
/// tell modules apart).
#[derive(Default)]
pub(crate) struct UnwindCache(CacheX86_64);

impl std::fmt::Debug for UnwindCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnwindCache").finish_non_exhaustive()
    }
}

/// A process's unwinder: a module per mapping of a file with
/// [`UnwindSections`].
#[derive(Default)]
pub(crate) struct ProcessUnwinder {
    unwinder: UnwinderX86_64<Arc<[u8]>>,
    /// The modules' address ranges, sorted by start.
    ranges: Vec<Range<u64>>,
}

impl std::fmt::Debug for ProcessUnwinder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessUnwinder")
            .field("ranges", &self.ranges)
            .finish_non_exhaustive()
    }
}

impl ProcessUnwinder {
    /// Adds file `name`'s mapping at `avma` (the process's addresses)
    /// whose first byte is at `svma_at_start` in the file's own address
    /// space.
    pub(crate) fn add_module(
        &mut self,
        name: &str,
        avma: Range<u64>,
        svma_at_start: u64,
        sections: &UnwindSections,
    ) {
        // ELF's base SVMA is 0: the base AVMA is where address 0 of the
        // file would be mapped.
        let Some(base_avma) = avma.start.checked_sub(svma_at_start) else {
            return;
        };
        let info = ExplicitModuleSectionInfo {
            base_svma: 0,
            text_svma: sections.text.as_ref().map(|s| s.svma.clone()),
            text: sections.text.as_ref().map(|s| s.data.clone()),
            got_svma: sections.got.clone(),
            eh_frame_svma: Some(sections.eh_frame.svma.clone()),
            eh_frame: Some(sections.eh_frame.data.clone()),
            eh_frame_hdr_svma: sections.eh_frame_hdr.as_ref().map(|s| s.svma.clone()),
            eh_frame_hdr: sections.eh_frame_hdr.as_ref().map(|s| s.data.clone()),
            ..Default::default()
        };
        let at = self.ranges.partition_point(|r| r.start < avma.start);
        self.ranges.insert(at, avma.clone());
        self.unwinder
            .add_module(Module::new(name.to_owned(), avma, base_avma, info));
    }

    fn covers(&self, address: u64) -> bool {
        let i = self.ranges.partition_point(|r| r.start <= address);
        i > 0 && address < self.ranges[i - 1].end
    }

    /// Unwinds from `regs` over `stack` (the bytes from SP on) into `out`:
    /// the IP, then return addresses as they are (not yet moved back into
    /// the call), at most [`MAX_FRAMES`]. `Ok` when the outermost frame
    /// was reached (or the cap); else why it stopped, `out` keeping the
    /// frames found.
    pub(crate) fn unwind(
        &self,
        cache: &mut UnwindCache,
        regs: &UserRegs<'_>,
        stack: &[u8],
        out: &mut Vec<u64>,
    ) -> Result<(), Stop> {
        let (Some(ip), Some(sp), Some(bp)) = (regs.get(REG_IP), regs.get(REG_SP), regs.get(REG_BP))
        else {
            return Err(Stop::NoRegisters);
        };
        if regs.abi != UserRegs::ABI_64 {
            return Err(Stop::NoRegisters);
        }
        out.push(ip);
        if !self.covers(ip) {
            return Err(Stop::UnknownModule);
        }
        let mut read_stack = |address: u64| {
            let at = usize::try_from(address.checked_sub(sp).ok_or(())?).map_err(|_| ())?;
            let bytes = stack.get(at..at.checked_add(8).ok_or(())?).ok_or(())?;
            Ok(u64::from_le_bytes(bytes.try_into().map_err(|_| ())?))
        };
        let mut frames = self.unwinder.iter_frames(
            ip,
            UnwindRegsX86_64::new(ip, sp, bp),
            &mut cache.0,
            &mut read_stack,
        );
        // The IP, pushed already.
        let _ = frames.next();
        while out.len() < MAX_FRAMES {
            match frames.next() {
                Ok(Some(frame)) => {
                    out.push(frame.address());
                    if !self.covers(frame.address_for_lookup()) {
                        return Err(Stop::UnknownModule);
                    }
                }
                Ok(None) => return Ok(()),
                Err(_) => return Err(Stop::EndOfStack),
            }
        }
        Ok(())
    }
}

/// How the dwarf samples' unwinds went, for the report's problems.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UnwindCounts {
    /// Samples with user registers and a user stack.
    pub samples: u64,
    /// Of those, stopped by each [`Stop`].
    pub no_registers: u64,
    pub unknown_module: u64,
    pub end_of_stack: u64,
}

impl UnwindCounts {
    pub(crate) fn count(&mut self, result: Result<(), Stop>) {
        self.samples += 1;
        match result {
            Ok(()) => {}
            Err(Stop::NoRegisters) => self.no_registers += 1,
            Err(Stop::UnknownModule) => self.unknown_module += 1,
            Err(Stop::EndOfStack) => self.end_of_stack += 1,
        }
    }

    /// The line for the report's problems, when some unwind stopped early.
    pub(crate) fn problem(&self) -> Option<String> {
        let stopped = self.no_registers + self.unknown_module + self.end_of_stack;
        (stopped > 0).then(|| {
            format!(
                "{stopped} of {} dwarf samples' user stacks were unwound only in part: {} had no \
                 user registers (kernel threads), {} reached an address in no file with unwind \
                 information (.eh_frame), {} reached the end of the copied stack \
                 (--call-graph dwarf,SIZE copies more)",
                self.samples, self.no_registers, self.unknown_module, self.end_of_stack
            )
        })
    }
}

#[cfg(test)]
mod tests;
