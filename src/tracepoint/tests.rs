//! Tests of format parsing and payload reading, on this machine's real format
//! texts (testdata/README.md) with payloads built by hand from their offsets.

use super::*;

const SCHED_SWITCH: &str = include_str!("testdata/sched_switch.format");
const SCHED_PROCESS_EXEC: &str = include_str!("testdata/sched_process_exec.format");
const MM_PAGE_ALLOC: &str = include_str!("testdata/mm_page_alloc.format");
const MM_PAGE_FREE: &str = include_str!("testdata/mm_page_free.format");
const SYS_ENTER: &str = include_str!("testdata/sys_enter.format");
const SYS_EXIT: &str = include_str!("testdata/sys_exit.format");
const FTRACE_PRINT: &str = include_str!("testdata/print.format");

fn parse_le(system: &str, text: &str) -> TracepointFormat {
    let mut format = TracepointFormat::parse(system, text).unwrap();
    // Payloads below are built little-endian whatever the host is.
    format.endianness = Endianness::Little;
    format
}

/// A payload of `len` zero bytes with the common header filled in.
fn payload(len: usize, common_type: u16, common_pid: i32) -> Vec<u8> {
    let mut p = vec![0u8; len];
    p[0..2].copy_from_slice(&common_type.to_le_bytes());
    p[2] = 0x01; // common_flags: irqs off
    p[3] = 0x02; // common_preempt_count
    p[4..8].copy_from_slice(&common_pid.to_le_bytes());
    p
}

fn put(p: &mut [u8], offset: usize, bytes: &[u8]) {
    p[offset..offset + bytes.len()].copy_from_slice(bytes);
}

fn field(
    name: &str,
    c_type: &str,
    offset: usize,
    size: usize,
    signed: bool,
    kind: FieldKind,
) -> Field {
    Field {
        name: name.into(),
        c_type: c_type.into(),
        offset,
        size,
        signed,
        kind,
    }
}

#[test]
fn sched_switch_format() {
    let f = TracepointFormat::parse("sched", SCHED_SWITCH).unwrap();
    assert_eq!(
        (f.system.as_str(), f.name.as_str(), f.id),
        ("sched", "sched_switch", 372)
    );
    assert_eq!(f.full_name(), "sched:sched_switch");
    assert_eq!(f.text, SCHED_SWITCH);
    assert_eq!(f.endianness, Endianness::NATIVE);
    use FieldKind::*;
    assert_eq!(
        f.fields,
        vec![
            field("common_type", "unsigned short", 0, 2, false, Scalar),
            field("common_flags", "unsigned char", 2, 1, false, Scalar),
            field("common_preempt_count", "unsigned char", 3, 1, false, Scalar),
            field("common_pid", "int", 4, 4, true, Scalar),
            field("prev_comm", "char", 8, 16, false, Array { len: Some(16) }),
            field("prev_pid", "pid_t", 24, 4, true, Scalar),
            field("prev_prio", "int", 28, 4, true, Scalar),
            field("prev_state", "long", 32, 8, true, Scalar),
            field("next_comm", "char", 40, 16, false, Array { len: Some(16) }),
            field("next_pid", "pid_t", 56, 4, true, Scalar),
            field("next_prio", "int", 60, 4, true, Scalar),
        ]
    );
}

#[test]
fn other_formats_parse_to_their_fields() {
    use FieldKind::*;
    let exec = TracepointFormat::parse("sched", SCHED_PROCESS_EXEC).unwrap();
    assert_eq!(exec.id, 365);
    assert_eq!(
        exec.fields[4],
        field("filename", "char", 8, 4, false, DynamicArray)
    );
    assert_eq!(
        exec.fields[6],
        field("old_pid", "pid_t", 16, 4, true, Scalar)
    );

    let alloc = TracepointFormat::parse("kmem", MM_PAGE_ALLOC).unwrap();
    assert_eq!(
        (alloc.name.as_str(), alloc.id, alloc.fields.len()),
        ("mm_page_alloc", 653, 8)
    );
    assert_eq!(
        alloc.fields[6],
        field("gfp_flags", "unsigned long", 24, 8, false, Scalar)
    );

    let free = TracepointFormat::parse("kmem", MM_PAGE_FREE).unwrap();
    assert_eq!((free.id, free.fields.len()), (655, 6));

    let enter = TracepointFormat::parse("raw_syscalls", SYS_ENTER).unwrap();
    assert_eq!(enter.id, 443);
    assert_eq!(
        enter.fields[5],
        field(
            "args",
            "unsigned long",
            16,
            48,
            false,
            Array { len: Some(6) }
        )
    );

    let exit = TracepointFormat::parse("raw_syscalls", SYS_EXIT).unwrap();
    assert_eq!((exit.name.as_str(), exit.id), ("sys_exit", 442));
    assert_eq!(exit.fields[5], field("ret", "long", 16, 8, true, Scalar));

    let print = TracepointFormat::parse("ftrace", FTRACE_PRINT).unwrap();
    assert_eq!(
        print.fields[5],
        field("buf", "char", 16, 0, false, FlexibleArray)
    );
}

/// sched_switch from bash (pid 1234, sleeping) to a task whose comm fills
/// all 16 bytes, with a negative prio to check sign extension.
fn sched_switch_payload() -> Vec<u8> {
    let mut p = payload(64, 372, 1234);
    put(&mut p, 8, b"bash\0");
    put(&mut p, 24, &1234i32.to_le_bytes());
    put(&mut p, 28, &120i32.to_le_bytes());
    put(&mut p, 32, &1i64.to_le_bytes());
    put(&mut p, 40, b"0123456789abcdef");
    put(&mut p, 56, &77i32.to_le_bytes());
    put(&mut p, 60, &(-5i32).to_le_bytes());
    p
}

#[test]
fn sched_switch_payload_reads() {
    let f = parse_le("sched", SCHED_SWITCH);
    let p = sched_switch_payload();
    assert_eq!(f.read_u64(&p, "common_type").unwrap(), 372);
    assert_eq!(f.read_u64(&p, "common_flags").unwrap(), 1);
    assert_eq!(f.read_u64(&p, "common_preempt_count").unwrap(), 2);
    assert_eq!(f.read_i64(&p, "common_pid").unwrap(), 1234);
    assert_eq!(f.read_str(&p, "prev_comm").unwrap(), "bash");
    assert_eq!(f.read_i64(&p, "prev_pid").unwrap(), 1234);
    assert_eq!(f.read_i64(&p, "prev_prio").unwrap(), 120);
    assert_eq!(f.read_i64(&p, "prev_state").unwrap(), 1);
    // No NUL inside the array: the whole 16 bytes.
    assert_eq!(f.read_str(&p, "next_comm").unwrap(), "0123456789abcdef");
    assert_eq!(f.read_i64(&p, "next_pid").unwrap(), 77);
    assert_eq!(f.read_i64(&p, "next_prio").unwrap(), -5);
    // read_u64 gives the field's bits, zero-extended.
    assert_eq!(f.read_u64(&p, "next_prio").unwrap(), 0xffff_fffb);
    assert_eq!(f.read_bytes(&p, "prev_comm").unwrap(), &p[8..24]);
}

#[test]
fn field_index_reads_many_payloads() {
    let f = parse_le("sched", SCHED_SWITCH);
    let next_pid = f.field_index("next_pid").unwrap();
    let next_comm = f.field_index("next_comm").unwrap();
    let mut p = sched_switch_payload();
    assert_eq!(f.read_i64(&p, next_pid).unwrap(), 77);
    put(&mut p, 56, &4242i32.to_le_bytes());
    put(&mut p, 40, b"sshd\0\0\0\0\0\0\0\0\0\0\0\0");
    assert_eq!(f.read_i64(&p, next_pid).unwrap(), 4242);
    assert_eq!(f.read_str(&p, next_comm).unwrap(), "sshd");
}

#[test]
fn a_scalar_field_placed_once_reads_as_the_format_does() {
    let f = parse_le("sched", SCHED_SWITCH);
    let p = sched_switch_payload();
    let next_prio = f.scalar_field("next_prio").unwrap();
    let prev_state = f.scalar_field("prev_state").unwrap();
    let common_type = f.scalar_field("common_type").unwrap();
    // The values sched_switch_payload put there (-5 at 60, 1 at 32, 372).
    assert_eq!(next_prio.read_i64(&p), Some(-5));
    assert_eq!(next_prio.read_u64(&p), Some(0xffff_fffb));
    assert_eq!(prev_state.read_i64(&p), Some(1));
    assert_eq!(common_type.read_u64(&p), Some(372));
    // A payload that ends inside the field.
    assert_eq!(next_prio.read_i64(&p[..62]), None);
    // Strings are not scalars.
    let err = f.scalar_field("prev_comm").unwrap_err().to_string();
    assert!(
        err.contains("prev_comm") && err.contains("not a scalar"),
        "{err}"
    );
}

#[test]
fn big_endian_payloads() {
    let mut f = TracepointFormat::parse("sched", SCHED_SWITCH).unwrap();
    f.endianness = Endianness::Big;
    let mut p = vec![0u8; 64];
    put(&mut p, 0, &372u16.to_be_bytes());
    put(&mut p, 4, &(-1i32).to_be_bytes());
    put(&mut p, 32, &0x0102_0304_0506_0708i64.to_be_bytes());
    put(&mut p, 60, &(-120i32).to_be_bytes());
    assert_eq!(f.read_u64(&p, "common_type").unwrap(), 372);
    assert_eq!(f.read_i64(&p, "common_pid").unwrap(), -1);
    assert_eq!(f.read_u64(&p, "prev_state").unwrap(), 0x0102_0304_0506_0708);
    assert_eq!(f.read_i64(&p, "next_prio").unwrap(), -120);
    assert_eq!(
        f.scalar_field("next_prio").unwrap().read_i64(&p),
        Some(-120)
    );
    let prev_state = f.scalar_field("prev_state").unwrap();
    assert_eq!(prev_state.read_u64(&p), Some(0x0102_0304_0506_0708));
}

#[test]
fn sign_extension_follows_signed_and_size() {
    let text = "name: widths\nID: 9\nformat:\n\
        \tfield:s8 a;\toffset:0;\tsize:1;\tsigned:1;\n\
        \tfield:u8 b;\toffset:1;\tsize:1;\tsigned:0;\n\
        \tfield:short c;\toffset:2;\tsize:2;\tsigned:1;\n\
        \tfield:unsigned short d;\toffset:4;\tsize:2;\tsigned:0;\n\
        \tfield:unsigned int e;\toffset:8;\tsize:4;\tsigned:0;\n\
        \tfield:s64 f;\toffset:16;\tsize:8;\tsigned:1;\n\
        \tfield:u64 g;\toffset:24;\tsize:8;\tsigned:0;\n";
    let f = parse_le("test", text);
    let mut p = vec![0xffu8; 32];
    put(&mut p, 2, &(-300i16).to_le_bytes());
    assert_eq!(f.read_i64(&p, "a").unwrap(), -1);
    assert_eq!(f.read_i64(&p, "b").unwrap(), 255);
    assert_eq!(f.read_i64(&p, "c").unwrap(), -300);
    assert_eq!(f.read_u64(&p, "c").unwrap(), 65236);
    assert_eq!(f.read_i64(&p, "d").unwrap(), 65535);
    assert_eq!(f.read_i64(&p, "e").unwrap(), 4_294_967_295);
    assert_eq!(f.read_i64(&p, "f").unwrap(), -1);
    assert_eq!(f.read_u64(&p, "g").unwrap(), u64::MAX);
    // An unsigned 64-bit value above i64::MAX keeps its bits.
    assert_eq!(f.read_i64(&p, "g").unwrap(), -1);
}

#[test]
fn sched_process_exec_data_loc_filename() {
    let f = parse_le("sched", SCHED_PROCESS_EXEC);
    // filename's data after the fixed fields (which end at 20): 14 bytes
    // with the NUL; the locator is length << 16 | offset.
    let mut p = payload(36, 365, 900);
    put(&mut p, 8, &((14u32 << 16) | 20).to_le_bytes());
    put(&mut p, 12, &900i32.to_le_bytes());
    put(&mut p, 16, &899i32.to_le_bytes());
    put(&mut p, 20, b"/usr/bin/true\0");
    assert_eq!(f.read_str(&p, "filename").unwrap(), "/usr/bin/true");
    assert_eq!(f.read_bytes(&p, "filename").unwrap(), b"/usr/bin/true\0");
    assert_eq!(f.read_i64(&p, "pid").unwrap(), 900);
    assert_eq!(f.read_i64(&p, "old_pid").unwrap(), 899);
    // The locator is not a scalar to read.
    let err = f.read_u64(&p, "filename").unwrap_err();
    assert_eq!(
        err.to_string(),
        "tracepoint sched:sched_process_exec field `filename`: is a __data_loc array, not a scalar"
    );
}

#[test]
fn rel_loc_counts_from_the_end_of_its_locator() {
    let text = "name: rel\nID: 10\nformat:\n\
        \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
        \tfield:__rel_loc char[] msg;\toffset:4;\tsize:4;\tsigned:0;\n";
    let f = parse_le("test", text);
    assert_eq!(f.fields[1].kind, FieldKind::RelativeDynamicArray);
    let mut p = vec![0u8; 16];
    // Data at byte 10 = 2 past the end of the locator (4 + 4).
    put(&mut p, 4, &((3u32 << 16) | 2).to_le_bytes());
    put(&mut p, 10, b"hi\0");
    assert_eq!(f.read_str(&p, "msg").unwrap(), "hi");
}

#[test]
fn mm_page_alloc_and_free_payloads() {
    let alloc = parse_le("kmem", MM_PAGE_ALLOC);
    let mut p = payload(40, 653, 321);
    put(&mut p, 8, &0x12_3456u64.to_le_bytes());
    put(&mut p, 16, &3u32.to_le_bytes());
    put(&mut p, 24, &0xcc0u64.to_le_bytes()); // GFP_KERNEL
    put(&mut p, 32, &1i32.to_le_bytes()); // MIGRATE_MOVABLE
    assert_eq!(alloc.read_u64(&p, "pfn").unwrap(), 0x12_3456);
    assert_eq!(alloc.read_u64(&p, "order").unwrap(), 3);
    assert_eq!(alloc.read_u64(&p, "gfp_flags").unwrap(), 0xcc0);
    assert_eq!(alloc.read_i64(&p, "migratetype").unwrap(), 1);
    assert_eq!(alloc.read_i64(&p, "common_pid").unwrap(), 321);

    let free = parse_le("kmem", MM_PAGE_FREE);
    let mut p = payload(24, 655, 321);
    put(&mut p, 8, &0x12_3456u64.to_le_bytes());
    put(&mut p, 16, &3u32.to_le_bytes());
    assert_eq!(free.read_u64(&p, "pfn").unwrap(), 0x12_3456);
    assert_eq!(free.read_u64(&p, "order").unwrap(), 3);
}

#[test]
fn sys_enter_and_exit_payloads() {
    let enter = parse_le("raw_syscalls", SYS_ENTER);
    let mut p = payload(64, 443, 50);
    put(&mut p, 8, &257i64.to_le_bytes()); // openat
    for (i, arg) in [0xffff_ff9c_u64, 0x7ffd_0000_1000, 0o2_000_000, 0, 0, 0]
        .iter()
        .enumerate()
    {
        put(&mut p, 16 + 8 * i, &arg.to_le_bytes());
    }
    assert_eq!(enter.read_i64(&p, "id").unwrap(), 257);
    assert_eq!(enter.read_element_u64(&p, "args", 0).unwrap(), 0xffff_ff9c);
    assert_eq!(
        enter.read_element_u64(&p, "args", 1).unwrap(),
        0x7ffd_0000_1000
    );
    assert_eq!(enter.read_element_u64(&p, "args", 2).unwrap(), 0o2_000_000);
    assert_eq!(enter.read_element_u64(&p, "args", 5).unwrap(), 0);
    assert_eq!(
        enter
            .read_element_u64(&p, "args", 6)
            .unwrap_err()
            .to_string(),
        "tracepoint raw_syscalls:sys_enter field `args`: has 6 elements, no element 6"
    );
    assert_eq!(
        enter.read_u64(&p, "args").unwrap_err().to_string(),
        "tracepoint raw_syscalls:sys_enter field `args`: is an array of 6, not a scalar"
    );
    assert_eq!(
        enter.read_str(&p, "id").unwrap_err().to_string(),
        "tracepoint raw_syscalls:sys_enter field `id`: is a scalar `long`, not a string"
    );

    let exit = parse_le("raw_syscalls", SYS_EXIT);
    let mut p = payload(24, 442, 50);
    put(&mut p, 8, &257i64.to_le_bytes());
    put(&mut p, 16, &(-2i64).to_le_bytes()); // -ENOENT
    assert_eq!(exit.read_i64(&p, "id").unwrap(), 257);
    assert_eq!(exit.read_i64(&p, "ret").unwrap(), -2);
}

#[test]
fn ftrace_print_flexible_buffer() {
    let f = parse_le("ftrace", FTRACE_PRINT);
    let mut p = payload(16, 5, 7);
    p.extend_from_slice(b"hello\n\0\0");
    assert_eq!(f.read_str(&p, "buf").unwrap(), "hello\n");
    assert_eq!(f.read_bytes(&p, "buf").unwrap(), b"hello\n\0\0");
}

#[test]
fn comm_that_is_not_utf8_is_replaced_not_refused() {
    let f = parse_le("sched", SCHED_SWITCH);
    let mut p = sched_switch_payload();
    put(&mut p, 8, b"a\xffb\0");
    assert_eq!(f.read_str(&p, "prev_comm").unwrap(), "a\u{fffd}b");
}

#[test]
fn short_payloads_are_errors_naming_the_field() {
    let f = parse_le("sched", SCHED_SWITCH);
    let p = &sched_switch_payload()[..36];
    assert_eq!(f.read_i64(p, "prev_prio").unwrap(), 120);
    assert_eq!(
        f.read_i64(p, "prev_state").unwrap_err().to_string(),
        "tracepoint sched:sched_switch field `prev_state` needs bytes 32..40 of the payload, which has 36"
    );
    assert!(matches!(
        f.read_str(p, "next_comm").unwrap_err(),
        TracepointError::Truncated {
            start: 40,
            end: 56,
            payload_len: 36,
            ..
        }
    ));
    assert!(matches!(
        f.read_u64(&[], "common_type").unwrap_err(),
        TracepointError::Truncated {
            start: 0,
            end: 2,
            payload_len: 0,
            ..
        }
    ));

    // A locator pointing past the end.
    let exec = parse_le("sched", SCHED_PROCESS_EXEC);
    let mut p = payload(24, 365, 1);
    put(&mut p, 8, &((14u32 << 16) | 20).to_le_bytes());
    assert_eq!(
        exec.read_str(&p, "filename").unwrap_err().to_string(),
        "tracepoint sched:sched_process_exec field `filename` needs bytes 20..34 of the payload, which has 24"
    );
}

#[test]
fn missing_fields_are_errors_naming_them() {
    let f = parse_le("sched", SCHED_SWITCH);
    let p = sched_switch_payload();
    assert_eq!(
        f.read_u64(&p, "nope").unwrap_err().to_string(),
        "tracepoint sched:sched_switch has no field `nope`"
    );
    assert!(matches!(
        f.field_index("prev_comm[16]").unwrap_err(),
        TracepointError::NoSuchField { ref field, .. } if field == "prev_comm[16]"
    ));
    assert_eq!(f.field("prev_comm").map(|f| f.offset), Some(8));
    assert!(f.field("").is_none());
}

/// Parses `text` as system `test` and returns the error's message.
fn parse_error(text: &str) -> String {
    TracepointFormat::parse("test", text)
        .unwrap_err()
        .to_string()
}

#[test]
fn malformed_formats_are_errors_with_line_numbers() {
    let good_field = "\tfield:int x;\toffset:8;\tsize:4;\tsigned:1;\n";
    assert_eq!(
        parse_error(&format!("name: t\nformat:\n{good_field}")),
        "format of tracepoint test:t, line 3: no `ID:` line"
    );
    assert_eq!(
        parse_error(&format!("ID: 1\nformat:\n{good_field}")),
        "format of tracepoint test:?, line 3: no `name:` line"
    );
    assert_eq!(
        parse_error("name: t\nID: x1\n"),
        "format of tracepoint test:t, line 2: ID `x1` is not a number"
    );
    assert_eq!(
        parse_error("name: t\nID: 1\nformat:\n\n"),
        "format of tracepoint test:t, line 4: no fields"
    );
    assert_eq!(
        parse_error(&format!("name: t\nID: 1\n{good_field}")),
        "format of tracepoint test:t, line 3: field before the `format:` line"
    );
    assert_eq!(
        parse_error("name: t\nID: 1\nformat:\n\tfield:int x;\toffset:eight;\tsize:4;\tsigned:1;\n"),
        "format of tracepoint test:t, line 4: offset `eight` is not a number"
    );
    assert_eq!(
        parse_error("name: t\nID: 1\nformat:\n\tfield:int x;\toffset:8;\tsigned:1;\n"),
        "format of tracepoint test:t, line 4: no size"
    );
    assert_eq!(
        parse_error("name: t\nID: 1\nformat:\n\tfield:int x;\toffset 8;\tsize:4;\n"),
        "format of tracepoint test:t, line 4: `offset 8` is not `key:value`"
    );
    assert_eq!(
        parse_error("name: t\nID: 1\nformat:\n\tfield:x;\toffset:8;\tsize:4;\n"),
        "format of tracepoint test:t, line 4: declaration `x` is not `type name`"
    );
    assert_eq!(
        parse_error("name: t\nID: 1\nformat:\n\tfield:int x-y;\toffset:8;\tsize:4;\n"),
        "format of tracepoint test:t, line 4: `x-y` is not a field name"
    );
    assert_eq!(
        parse_error(&format!(
            "name: t\nID: 1\nformat:\n{good_field}{good_field}"
        )),
        "format of tracepoint test:t, line 5: field `x` declared twice"
    );
    assert_eq!(
        parse_error("name: t\nID: 1\nformat:\n\tfield:char c[16;\toffset:8;\tsize:16;\n"),
        "format of tracepoint test:t, line 4: array `c[16` has no closing `]`"
    );
    assert_eq!(
        parse_error("name: t\nID: 1\nformat:\n\tfield:int c[3];\toffset:8;\tsize:16;\n"),
        "format of tracepoint test:t, line 4: array `c[3]` of size 16 cannot hold 3 equal elements"
    );
    assert_eq!(
        parse_error("name: t\nID: 1\nformat:\n\tfield:__data_loc char[] s;\toffset:8;\tsize:8;\n"),
        "format of tracepoint test:t, line 4: dynamic array locator `s` has size 8, not 4"
    );
    assert_eq!(
        parse_error("name: t\nID: 1\nformat:\n\tfield:long x;\toffset:65535;\tsize:8;\n"),
        "format of tracepoint test:t, line 4: offset 65535 + size 8 is beyond any payload"
    );
    assert_eq!(
        parse_error(&format!(
            "name: t\nID: 1\nformat:\n{good_field}garbage here\n"
        )),
        "format of tracepoint test:t, line 5: unexpected line `garbage here`"
    );
    assert_eq!(
        parse_error(""),
        "format of tracepoint test:?, line 0: no `name:` line"
    );
}

#[test]
fn unusual_but_valid_declarations() {
    let text = "name: odd\nID: 11\nformat:\n\
        \tfield:const char * name;\toffset:0;\tsize:8;\tsigned:0;\n\
        \tfield:char comm[TASK_COMM_LEN];\toffset:8;\tsize:16;\tsigned:0;\n\
        \tfield:struct foo big;\toffset:24;\tsize:16;\tsigned:0;\n\
        \tfield:unsigned int old;\toffset:40;\tsize:4;\n\
        \tfield:__data_loc cpumask_t mask;\toffset:44;\tsize:4;\tsigned:0;\n\
        \n\
        print fmt: \"%s\", REC->comm\n";
    let f = parse_le("test", text);
    assert_eq!(
        f.fields[0],
        field("name", "const char *", 0, 8, false, FieldKind::Scalar)
    );
    assert_eq!(
        f.fields[1],
        field("comm", "char", 8, 16, false, FieldKind::Array { len: None })
    );
    assert_eq!(
        f.fields[3],
        field("old", "unsigned int", 40, 4, false, FieldKind::Scalar)
    );
    assert_eq!(
        f.fields[4],
        field("mask", "cpumask_t", 44, 4, false, FieldKind::DynamicArray)
    );
    let mut p = vec![0u8; 56];
    put(&mut p, 44, &((8u32 << 16) | 48).to_le_bytes());
    put(&mut p, 48, &0b1010u64.to_le_bytes());
    assert_eq!(f.read_bytes(&p, "mask").unwrap(), &0b1010u64.to_le_bytes());
    put(&mut p, 8, b"init\0");
    assert_eq!(f.read_str(&p, "comm").unwrap(), "init");
    assert_eq!(
        f.read_element_u64(&p, "comm", 0).unwrap_err().to_string(),
        "tracepoint test:odd field `comm`: is not an array of known length"
    );
    assert_eq!(
        f.read_u64(&p, "big").unwrap_err().to_string(),
        "tracepoint test:odd field `big`: 16-byte values are not integers"
    );
}

/// A tracefs-like tree with one tracepoint, sched:sched_switch.
fn fake_tracefs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let event = dir.path().join("events/sched/sched_switch");
    std::fs::create_dir_all(&event).unwrap();
    std::fs::write(event.join("format"), SCHED_SWITCH).unwrap();
    dir
}

#[test]
fn tracefs_format_reads_the_events_tree() {
    let dir = fake_tracefs();
    let tracefs = Tracefs::at(dir.path());
    let f = tracefs.format("sched", "sched_switch").unwrap();
    assert_eq!(
        (f.system.as_str(), f.name.as_str(), f.id),
        ("sched", "sched_switch", 372)
    );
    assert_eq!(f.text, SCHED_SWITCH);
}

#[test]
fn tracefs_missing_tracepoint_names_it() {
    let dir = fake_tracefs();
    let tracefs = Tracefs::at(dir.path());
    let err = tracefs.format("kmem", "mm_page_alloc").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "tracepoint kmem:mm_page_alloc does not exist on this kernel (no {}/events/kmem/mm_page_alloc)",
            dir.path().display()
        )
    );
    for (system, name) in [
        ("sched", "../sched/sched_switch"),
        ("..", "x"),
        ("", "sched_switch"),
        ("sched", ""),
    ] {
        assert!(
            matches!(
                tracefs.format(system, name),
                Err(TracepointError::InvalidName { .. })
            ),
            "{system}:{name}"
        );
    }
}

#[test]
fn tracefs_lists_the_tracepoints_a_filter_keeps() {
    let dir = fake_tracefs();
    let events = dir.path().join("events");
    for tracepoint in [
        "sched/sched_wakeup",
        "syscalls/sys_enter_getppid",
        "syscalls/sys_exit_getppid",
    ] {
        std::fs::create_dir_all(events.join(tracepoint)).unwrap();
    }
    // A system's controls and tracefs's own files are no tracepoints.
    for file in ["sched/enable", "sched/filter", "header_page"] {
        std::fs::write(events.join(file), "").unwrap();
    }
    let tracefs = Tracefs::at(dir.path());
    assert_eq!(
        tracefs.tracepoints(|_| true, |_, _| true).unwrap(),
        [
            ("sched".to_owned(), "sched_switch".to_owned()),
            ("sched".into(), "sched_wakeup".into()),
            ("syscalls".into(), "sys_enter_getppid".into()),
            ("syscalls".into(), "sys_exit_getppid".into()),
        ]
    );
    let exits = tracefs
        .tracepoints(|s| s == "syscalls", |_, n| n.starts_with("sys_exit_"))
        .unwrap();
    assert_eq!(
        exits,
        [("syscalls".to_owned(), "sys_exit_getppid".to_owned())]
    );
    let err = Tracefs::at(dir.path().join("none"))
        .tracepoints(|_| true, |_, _| true)
        .unwrap_err();
    assert!(
        matches!(err, TracepointError::Read { ref path, .. } if *path == dir.path().join("none/events")),
        "{err}"
    );
}

#[test]
fn tracefs_unreadable_format_is_a_read_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("events/sched/sched_switch")).unwrap();
    let err = Tracefs::at(dir.path())
        .format("sched", "sched_switch")
        .unwrap_err();
    assert!(
        matches!(err, TracepointError::Read { ref path, .. }
            if *path == dir.path().join("events/sched/sched_switch/format")),
        "{err}"
    );
}

/// The mounted tracefs, when the test can have it (see
/// [`crate::testing::prerequisite`]).
fn tracefs() -> Option<Tracefs> {
    crate::testing::prerequisite(crate::testing::tracefs())
}

/// Every format on the running kernel parses, and its ID is the one in the
/// tracepoint's `id` file.
#[test]
fn real_kernel_formats_parse_with_their_ids() {
    let Some(tracefs) = tracefs() else { return };
    let mut parsed = 0;
    for system in std::fs::read_dir(tracefs.root().join("events")).unwrap() {
        let system = system.unwrap();
        if !system.file_type().unwrap().is_dir() {
            continue;
        }
        for event in std::fs::read_dir(system.path()).unwrap() {
            let event = event.unwrap();
            let id_path = event.path().join("id");
            if !id_path.exists() {
                continue;
            }
            let system = system.file_name().into_string().unwrap();
            let name = event.file_name().into_string().unwrap();
            let format = tracefs.format(&system, &name).unwrap();
            let id: u64 = std::fs::read_to_string(&id_path)
                .unwrap()
                .trim()
                .parse()
                .unwrap();
            assert_eq!(format.id, id, "{system}:{name}");
            assert_eq!(format.name, name);
            assert_eq!(format.fields[0].name, "common_type", "{system}:{name}");
            parsed += 1;
        }
    }
    assert!(parsed > 100, "only {parsed} tracepoints found");
}

/// raw_syscalls:sys_enter opened by the ID from its format counts this
/// thread's syscalls.
#[test]
fn real_kernel_sys_enter_id_opens_the_tracepoint() {
    use crate::abi::{self, Target};
    use crate::attr::{flags, kind, EventAttr};
    use std::io::Read;
    use std::os::fd::AsFd;

    let Some(tracefs) = tracefs() else { return };
    let format = tracefs.format("raw_syscalls", "sys_enter").unwrap();
    let id_file = tracefs.root().join("events/raw_syscalls/sys_enter/id");
    let id: u64 = std::fs::read_to_string(id_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(format.id, id);

    let attr = EventAttr {
        kind: kind::TRACEPOINT,
        config: format.id,
        flags: flags::DISABLED,
        ..Default::default()
    };
    let fd = abi::open_event(&attr, Target::Task { pid: 0, cpu: None }, None).unwrap();
    const CALLS: u64 = 100;
    abi::enable(fd.as_fd()).unwrap();
    for _ in 0..CALLS {
        // SAFETY: getpid takes no arguments and cannot fail.
        unsafe { libc::syscall(libc::SYS_getpid) };
    }
    abi::disable(fd.as_fd()).unwrap();

    let mut count = [0u8; 8];
    std::fs::File::from(fd).read_exact(&mut count).unwrap();
    let count = u64::from_ne_bytes(count);
    // The getpid calls plus the DISABLE ioctl itself; nothing else runs on
    // this thread between the two ioctls.
    assert!(
        (CALLS..=CALLS + 2).contains(&count),
        "counted {count} syscalls"
    );
}

#[test]
fn user_events_are_told_by_their_system() {
    for system in [
        "user_events",
        "user_events_multi",
        "user_events_42",
        "user_events_multi_42",
    ] {
        assert!(is_user_events_system(system), "{system}");
    }
    for system in [
        "user_event",
        "user_events_",
        "user_events_x",
        "user_eventsx",
        "user_events_multi_",
        "user_events_42_1",
        "uprobes",
    ] {
        assert!(!is_user_events_system(system), "{system}");
    }
}
