//! The Google emulator (being written).
