//! tracepoint_format: a tracefs format text parsed by
//! `TracepointFormat::parse`, then every field of it read from a payload
//! in every way there is, in both byte orders.
//!
//! Input: `options: u8` (bit 0: big-endian payload), the format text up
//! to the first NUL byte (not UTF-8 is replaced), then the payload.

use perfns::tracepoint::{Endianness, FieldKind, TracepointFormat};

use crate::Input;

/// The target.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let options = input.u8();
    let rest = input.rest();
    let (text, payload) = match rest.iter().position(|&b| b == 0) {
        Some(nul) => (&rest[..nul], &rest[nul + 1..]),
        None => (rest, &[][..]),
    };
    let text = String::from_utf8_lossy(text);
    let Ok(mut format) = TracepointFormat::parse("fuzz", &text) else {
        return;
    };
    assert_eq!(format.text, text);
    assert!(!format.fields.is_empty());
    format.endianness = if options & 1 != 0 {
        Endianness::Big
    } else {
        Endianness::Little
    };
    let names: Vec<String> = format.fields.iter().map(|f| f.name.clone()).collect();
    for name in &names {
        let index = format.field_index(name).expect("a parsed field is found");
        let field = format.field(name).expect("a parsed field is found").clone();
        let by_name = format
            .read_u64(payload, name.as_str())
            .map_err(|e| e.to_string());
        let by_index = format.read_u64(payload, index).map_err(|e| e.to_string());
        assert_eq!(by_name, by_index);
        let _ = format.read_i64(payload, index);
        if let Ok(b) = format.read_bytes(payload, index) {
            // Whatever the locator says, the bytes are the payload's.
            let p = payload.as_ptr_range();
            let r = b.as_ptr_range();
            assert!(b.is_empty() || (p.start <= r.start && r.end <= p.end));
        }
        let _ = format.read_str(payload, index);
        if let FieldKind::Array { len: Some(len) } = field.kind {
            for element in 0..len.min(4) {
                let _ = format.read_element_u64(payload, index, element);
            }
            let _ = format.read_element_u64(payload, index, len);
        }
    }
    let _ = format.read_u64(payload, "no_such_field");
}

/// The input for `text` and `payload`.
pub fn encode(big_endian: bool, text: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![u8::from(big_endian)];
    out.extend_from_slice(text.as_bytes());
    out.push(0);
    out.extend_from_slice(payload);
    out
}
