//! dialplan (placeholder)
