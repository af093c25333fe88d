//! metafix: placeholder, being written.
