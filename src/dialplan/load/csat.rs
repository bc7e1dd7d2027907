//! The `csat` step of a dialplan file: the survey's prompt, retries and where the call goes
//! afterwards. There is no `on_timeout` or `on_invalid`: every ending goes to `next`.

use super::fields::get;
use super::Loader;
use crate::dialplan::csat::{CsatStep, CSAT_VAR};
use crate::yaml::Node;

const CSAT_KEYS: &[&str] = &[
    "prompt", "timeout", "retries", "invalid", "barge_in", "next",
];

impl Loader<'_> {
    pub(super) fn csat(&mut self, node: &Node) -> Option<CsatStep> {
        let map = self.mapping(node, "csat")?;
        let before = self.errors.len();
        self.check_keys(map, CSAT_KEYS, "csat", &[]);
        let input = self.input_rules(node, map, "csat", true);
        let next = get(map, "next").map(|n| self.target(n, "next"));
        self.writes.push(CSAT_VAR.to_owned());
        if self.errors.len() > before {
            return None;
        }
        Some(CsatStep {
            input: input?,
            next: next.map_or(Some(None), |t| t.map(Some))?,
        })
    }
}
