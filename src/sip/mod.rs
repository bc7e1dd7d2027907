//! sip (placeholder)
