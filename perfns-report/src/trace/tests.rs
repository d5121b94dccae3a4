//! The trace against synthetic records.
