//! Prompt cache
