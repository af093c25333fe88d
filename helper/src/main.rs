//! `helper`: Keepsake's helper binary (being written).
fn main() {}
