//! perfns record layer.
