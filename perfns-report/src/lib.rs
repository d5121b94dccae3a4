//! perfns report layer.
