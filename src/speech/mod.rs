//! speech (placeholder)
