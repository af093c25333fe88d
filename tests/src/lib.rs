//! Support code shared by Keepsake's integration tests (being written).
