//! Unwinding synthetic stacks: a hand-written `.eh_frame` of three
//! functions (inner called by outer called by root, whose return address
//! is undefined: the outermost), the stack bytes a run of them leaves, and
//! bad input (a short stack, no registers, addresses in no module): the
//! frames found so far kept, the reason given, never a panic.

// A test's unwrap failing is its report.
#![allow(clippy::unwrap_used)]

use super::*;

/// Where the module is mapped; its file's addresses start at 0.
const BASE: u64 = 0x40_0000;
const INNER: u64 = BASE + 0x1000;
const OUTER: u64 = BASE + 0x1100;
const ROOT: u64 = BASE + 0x1200;
const SP: u64 = 0x7ffd_0000;
/// perf's x86-64 user register mask: AX..R15 but for the segment
/// registers (0xff0fff).
const MASK: u64 = 0xff_0fff;

/// `.eh_frame`: a CIE (CFA = RSP + 8, return address at CFA - 8: the
/// state at a function's entry), an FDE of that CIE for inner and for
/// outer (0x100 bytes each, at 0x1000 and 0x1100), and for root (at
/// 0x1200), whose return address is undefined.
fn eh_frame() -> Vec<u8> {
    let mut b = Vec::new();
    // CIE: length, id 0, version 1, no augmentation, code alignment 1,
    // data alignment -8, return address register 16; DW_CFA_def_cfa RSP
    // 8, DW_CFA_offset r16 1 (× -8); nops to 8 bytes.
    b.extend(20u32.to_le_bytes());
    b.extend(0u32.to_le_bytes());
    b.extend([1, 0, 1, 0x78, 16, 0x0c, 7, 8, 0x90, 1, 0, 0, 0, 0, 0, 0]);
    for (start, undefined_ra) in [(0x1000u64, false), (0x1100, false), (0x1200, true)] {
        // FDE: length, offset back to the CIE, pc_begin, pc_range
        // (absolute pointers), DW_CFA_undefined r16 for root.
        let at = b.len();
        b.extend(24u32.to_le_bytes());
        b.extend((at as u32 + 4).to_le_bytes());
        b.extend(start.to_le_bytes());
        b.extend(0x100u64.to_le_bytes());
        b.extend(if undefined_ra { [7, 16, 0, 0] } else { [0; 4] });
    }
    b.extend(0u32.to_le_bytes());
    b
}

fn sections() -> UnwindSections {
    let data = eh_frame();
    UnwindSections {
        eh_frame: Section {
            svma: 0x3000..0x3000 + data.len() as u64,
            data: data.into(),
        },
        eh_frame_hdr: None,
        text: None,
        got: None,
    }
}

fn unwinder() -> ProcessUnwinder {
    let mut u = ProcessUnwinder::default();
    u.add_module("/synthetic/app", BASE..BASE + 0x2000, 0, &sections());
    u
}

/// Registers of mask [`MASK`]: AX..DI, BP, SP, IP, FLAGS, CS, SS, R8..R15
/// (every other 0).
fn regs(abi: u64, ip: u64, sp: u64, bp: u64) -> UserRegs<'static> {
    let mut values = [0u64; 20];
    values[6] = bp;
    values[7] = sp;
    values[8] = ip;
    UserRegs::from_values(abi, MASK, &values)
}

/// The stack bytes from SP: each value a u64.
fn stack(values: &[u64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn unwind(u: &ProcessUnwinder, regs: &UserRegs<'_>, stack: &[u8]) -> (Vec<u64>, Result<(), Stop>) {
    let mut out = Vec::new();
    let result = u.unwind(&mut UnwindCache::default(), regs, stack, &mut out);
    (out, result)
}

#[test]
fn a_stack_unwinds_through_each_frames_cfi_to_the_outermost() {
    let u = unwinder();
    // inner at +0x10, called from outer at +0x50, called from root at
    // +0x20: each frame's return address where the CFI says, at CFA - 8.
    let bytes = stack(&[OUTER + 0x50, ROOT + 0x20, 0xdead]);
    let (out, result) = unwind(&u, &regs(UserRegs::ABI_64, INNER + 0x10, SP, 0), &bytes);
    assert_eq!(out, [INNER + 0x10, OUTER + 0x50, ROOT + 0x20]);
    assert_eq!(result, Ok(()));
}

#[test]
fn bad_input_keeps_the_frames_found_and_says_why() {
    let u = unwinder();
    let r = regs(UserRegs::ABI_64, INNER + 0x10, SP, 0);
    // A short stack: the caller's return address only.
    let (out, result) = unwind(&u, &r, &stack(&[OUTER + 0x50]));
    assert_eq!(out, [INNER + 0x10, OUTER + 0x50]);
    assert_eq!(result, Err(Stop::EndOfStack));
    // No stack at all, and a stack cut inside a value.
    for bytes in [vec![], vec![0x50, 0x11, 0x40]] {
        let (out, result) = unwind(&u, &r, &bytes);
        assert_eq!(out, [INNER + 0x10]);
        assert_eq!(result, Err(Stop::EndOfStack));
    }
    // A kernel thread's: ABI none, no registers.
    let none = UserRegs::from_values(UserRegs::ABI_NONE, MASK, &[]);
    let (out, result) = unwind(&u, &none, &stack(&[OUTER + 0x50]));
    assert_eq!((out, result), (vec![], Err(Stop::NoRegisters)));
    // 32-bit registers, and a mask without IP.
    let (out, result) = unwind(&u, &regs(UserRegs::ABI_32, INNER, SP, 0), &[]);
    assert_eq!((out, result), (vec![], Err(Stop::NoRegisters)));
    let no_ip = UserRegs::from_values(UserRegs::ABI_64, 0xff, &[0; 8]);
    assert_eq!(unwind(&u, &no_ip, &[]), (vec![], Err(Stop::NoRegisters)));
    // An IP in no module stays the leaf; a return address in none ends
    // the stack there.
    let (out, result) = unwind(&u, &regs(UserRegs::ABI_64, 0x90_0000, SP, 0), &[]);
    assert_eq!((out, result), (vec![0x90_0000], Err(Stop::UnknownModule)));
    let (out, result) = unwind(&u, &r, &stack(&[0x90_0000, ROOT]));
    assert_eq!(out, [INNER + 0x10, 0x90_0000]);
    assert_eq!(result, Err(Stop::UnknownModule));
    // A process without modules.
    let empty = ProcessUnwinder::default();
    assert_eq!(
        unwind(&empty, &r, &stack(&[OUTER])),
        (vec![INNER + 0x10], Err(Stop::UnknownModule))
    );
}

#[test]
fn a_loop_on_the_stack_stops_at_the_frame_cap() {
    // outer returning into outer forever (each frame's return address
    // outer's, the stack moving up): capped, not endless.
    let u = unwinder();
    let bytes = stack(&[OUTER + 0x50; 200]);
    let (out, result) = unwind(&u, &regs(UserRegs::ABI_64, OUTER + 0x10, SP, 0), &bytes);
    assert_eq!(out.len(), MAX_FRAMES);
    assert_eq!(result, Ok(()));
}

#[test]
fn the_counts_name_each_reason() {
    let mut c = UnwindCounts::default();
    assert_eq!(c.problem(), None);
    for r in [
        Ok(()),
        Err(Stop::NoRegisters),
        Err(Stop::UnknownModule),
        Err(Stop::EndOfStack),
        Err(Stop::EndOfStack),
    ] {
        c.count(r);
    }
    let problem = c.problem().unwrap();
    assert!(problem.starts_with("4 of 5 dwarf samples'"), "{problem}");
    assert!(problem.contains("1 had no user registers"), "{problem}");
    assert!(
        problem.contains("1 reached an address in no file"),
        "{problem}"
    );
    assert!(
        problem.contains("2 reached the end of the copied stack"),
        "{problem}"
    );
}
