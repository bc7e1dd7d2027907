//! Which dialplan answers a call: one per called user (`support@` → the shop's,
//! `bank@` → the bank's), and a default for every other number.
//!
//! The table is built once at start from `[dialplan]` in the config; a call looks it up by the
//! user part of its Request-URI. Users compare case-insensitively because phones and trunks
//! disagree on case; numbers compare as written.

use std::collections::HashMap;
use std::sync::Arc;

use super::model::Dialplan;

/// Dialplans by called user, with a default.
#[derive(Debug, Clone)]
pub struct Routes {
    default: Arc<Dialplan>,
    by_user: HashMap<String, Arc<Dialplan>>,
}

impl Routes {
    /// Every call runs `default`.
    pub fn single(default: Arc<Dialplan>) -> Self {
        Routes {
            default,
            by_user: HashMap::new(),
        }
    }

    /// Calls to `user` run `plan` (replacing an earlier route for the same user).
    pub fn add(&mut self, user: &str, plan: Arc<Dialplan>) {
        self.by_user.insert(user.to_ascii_lowercase(), plan);
    }

    /// The dialplan for a call to `user` (the Request-URI's user part, maybe empty).
    pub fn for_user(&self, user: &str) -> &Arc<Dialplan> {
        self.by_user
            .get(&user.to_ascii_lowercase())
            .unwrap_or(&self.default)
    }

    /// Routed users and their dialplans, sorted by user (for logs and the API).
    pub fn routed(&self) -> Vec<(&str, &Arc<Dialplan>)> {
        let mut routed: Vec<_> = self
            .by_user
            .iter()
            .map(|(user, plan)| (user.as_str(), plan))
            .collect();
        routed.sort_by(|a, b| a.0.cmp(b.0));
        routed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialplan::load_str;

    fn plan(name: &str) -> Arc<Dialplan> {
        let text = format!("name: {name}\nsteps:\n  - hangup: completed\n");
        Arc::new(load_str("test.yaml", &text).expect("valid dialplan"))
    }

    #[test]
    fn a_routed_user_gets_its_plan_and_everyone_else_the_default() {
        let mut routes = Routes::single(plan("front desk"));
        routes.add("support", plan("shop"));
        routes.add("Bank", plan("bank"));
        routes.add("4420", plan("number"));
        let name = |user: &str| routes.for_user(user).name.clone();
        assert_eq!(name("support"), "shop");
        assert_eq!(name("SUPPORT"), "shop");
        assert_eq!(name("bank"), "bank");
        assert_eq!(name("4420"), "number");
        assert_eq!(name("44200"), "front desk");
        assert_eq!(name(""), "front desk");
        assert_eq!(name("service"), "front desk");
        let users: Vec<_> = routes.routed().into_iter().map(|(u, _)| u).collect();
        assert_eq!(users, ["4420", "bank", "support"]);
    }
}
