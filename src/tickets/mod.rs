//! tickets (placeholder)
