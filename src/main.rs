//! The `perfns` command: `perfns record` and `perfns report`.

fn main() {}
