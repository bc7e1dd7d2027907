//! Process-wide counters (placeholder)
