//! SIP: message framing and parsing, RFC 3261 transactions, UAS dialogs, digest
//! authentication and the agents' registrar, the user agent core and its UDP/TCP transport
//! shell.
//!
//! Everything but [`transport`] is sans-IO: fed bytes and the current time, it yields bytes to
//! send, events for `call/` and its next deadline. `call/` talks to it only through
//! [`endpoint::SipEvent`] and the endpoint's command methods.

pub mod auth;
pub mod dialog;
pub mod endpoint;
pub mod message;
pub mod registrar;
pub mod replaces;
pub mod transaction;
pub mod transport;

#[cfg(test)]
mod outgoing_tests;
#[cfg(test)]
mod tests;
