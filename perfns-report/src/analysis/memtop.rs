//! memtop: the pages each task allocated and freed, by allocation order,
//! from `kmem:mm_page_alloc` and `kmem:mm_page_free`.

use crate::model::MemoryFigures;

/// Counts one page allocation (`alloc`) or free of `order` (2^order pages)
/// into `m`. An order of 64 or more cannot be a page count and is left out.
pub(super) fn count_pages(m: &mut MemoryFigures, alloc: bool, order: u64) {
    if order >= 64 {
        return;
    }
    let pages = 1u64 << order;
    if alloc {
        m.pages_allocated += pages;
        *m.allocations_by_order.entry(order as u32).or_default() += 1;
    } else {
        m.pages_freed += pages;
    }
}
