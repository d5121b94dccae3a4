//! This crate's modules are layered: no module imports, directly or
//! through others, a module that imports it.

use std::path::Path;

#[test]
fn this_crates_modules_have_no_cycles() {
    perfns::testing::module_cycles::assert_no_module_cycles(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
    );
}
