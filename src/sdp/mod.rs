//! sdp (placeholder)
