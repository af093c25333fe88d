//! Keepsake's helper (being written).

pub mod emulator;
