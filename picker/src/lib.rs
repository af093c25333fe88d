//! picker: placeholder, being written.
