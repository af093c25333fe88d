//! Keepsake's browser app entry point (being written).
fn main() {}
