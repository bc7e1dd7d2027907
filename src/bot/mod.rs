//! The bot's understanding of a caller's words: intents matched against example phrases and
//! entities (spoken numbers, yes/no). Pure functions over text; `dialplan/` calls them.

pub mod entities;
pub mod intents;
pub mod normalize;
