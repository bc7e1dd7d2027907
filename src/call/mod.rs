//! call (placeholder)
