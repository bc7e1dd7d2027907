//! Loader tests: one table row per validation rule, plus the shipped example files.

use std::path::Path;
use std::time::Duration;

use proptest::prelude::*;

use super::*;

fn errors_of(text: &str) -> Vec<DialplanError> {
    match load_str("t.yaml", text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(DialplanErrors(errors)) => errors,
    }
}

const TAIL: &str = "  - label: a\n    hangup:\n";

#[test]
fn each_rule_reports_its_line_and_message() {
    // (snippet, line, message substring). `TAIL` defines label `a` at lines after the snippet.
    let cases: &[(&str, usize, &str)] = &[
        ("", 1, "the dialplan is empty"),
        ("name: x\n", 1, "the dialplan is empty"),
        ("steps: []\n", 1, "the dialplan is empty"),
        ("steps:\n", 1, "the dialplan is empty"),
        ("- say: hi\n", 1, "`dialplan` must be a mapping with `steps`, found a list"),
        ("steps: hello\n", 1, "`steps` must be a list of steps, found `hello`"),
        ("nmae: x\nsteps:\n  - hangup:\n", 1, "unknown key `nmae` in the dialplan; allowed keys: name, voice, start, intents, out_of_scope, faq, on_angry, steps"),
        ("out_of_scope: hello\nsteps:\n  - hangup:\n", 1, "`out_of_scope` must be a list of example phrases"),
        ("out_of_scope: []\nsteps:\n  - hangup:\n", 1, "out_of_scope"),
        ("steps:\n  - speak: hi\n", 2, "unknown step kind `speak`; expected one of: say, play, menu, collect, ask, set, goto, transfer, hangup"),
        ("steps:\n  - label: x\n", 2, "step has no action; expected one of: say"),
        ("steps:\n  - hi\n", 2, "`step` must be a mapping like `say: ...`, found `hi`"),
        ("steps:\n  - say: hi\n    goto: x\n", 3, "step has both `say` and `goto`"),
        ("steps:\n  - say: hi\n    bargein: false\n", 3, "unknown key `bargein` in say step; allowed keys: label, say, barge_in"),
        ("steps:\n  - say: hi\n    barge_in: maybe\n", 3, "`barge_in` must be true or false, found `maybe`"),
        ("steps:\n  - say: [1]\n", 2, "`say` must be a string, found a list"),
        ("steps:\n  - say: \"Hi {name\"\n", 2, "`say`: unclosed `{` at character 4"),
        ("steps:\n  - say: \"Hi name}\"\n", 2, "`say`: unmatched `}`"),
        ("steps:\n  - say: \"{n|upper}\"\n", 2, "unknown filter `upper`"),
        ("steps:\n  - goto: nowhere\n", 2, "`goto` refers to unknown label `nowhere`"),
        ("steps:\n  - label: a\n    say: x\n  - label: a\n    hangup:\n", 4, "duplicate label `a` (first on line 2)"),
        ("steps:\n  - label: \"a b\"\n    hangup:\n", 2, "bad label `a b`"),
        ("start: b\nsteps:\n  - hangup:\n", 1, "`start` refers to unknown label `b`"),
        ("steps:\n  - hangup: maybe\n", 2, "unknown hangup disposition `maybe`"),
        ("steps:\n  - transfer: \"agent@host\"\n", 2, "transfer target `agent@host` is not a sip:, sips: or tel: URI"),
        ("steps:\n  - transfer: \"sip:\"\n", 2, "not a sip:"),
        ("steps:\n  - transfer: \"http://x\"\n", 2, "not a sip:"),
        ("steps:\n  - transfer: { to: \"sip:a@b\", on_fail: a }\n", 2, "unknown key `on_fail` in transfer; allowed keys: to, on_failure"),
        ("steps:\n  - transfer: { on_failure: a }\n", 2, "transfer step is missing required key `to`"),
        ("steps:\n  - play: missing.wav\n", 2, "cannot play `missing.wav`"),
        ("steps:\n  - set: { \"1x\": y }\n", 2, "bad variable name `1x`"),
        ("steps:\n  - say: \"{long}\"\n", 2, "`say` is 1025 characters long, at most 1024"),
        ("steps:\n  - set: {}\n", 2, "`set` must be a non-empty mapping"),
        ("steps:\n  - menu: hi\n", 2, "`menu` must be a mapping, found `hi`"),
        ("steps:\n  - menu:\n      options: { \"1\": a }\n", 3, "menu step is missing required key `prompt`"),
        ("steps:\n  - menu:\n      prompt: p\n", 3, "menu step is missing required key `options`"),
        ("steps:\n  - menu:\n      prompt: p\n      options: {}\n", 4, "menu `options` must not be empty"),
        ("steps:\n  - menu:\n      prompt: p\n      options: { \"12\": a }\n", 4, "menu option `12` is not a single key 0-9, * or #"),
        ("steps:\n  - menu:\n      prompt: p\n      options: { x: a }\n", 4, "menu option `x`"),
        ("steps:\n  - menu:\n      prompt: p\n      options: { 1: b }\n", 4, "`options.1` refers to unknown label `b`"),
        ("steps:\n  - menu:\n      prompt: p\n      options: { 1: a }\n      timout: 5s\n", 5, "unknown key `timout` in menu; allowed keys: prompt, options, timeout, retries"),
        ("steps:\n  - menu:\n      prompt: p\n      options: { 1: a }\n      timeout: 5\n", 5, "`timeout`: `5` is not a duration like 5s or 1500ms"),
        ("steps:\n  - menu:\n      prompt: p\n      options: { 1: a }\n      timeout: 10m\n", 5, "not a duration"),
        ("steps:\n  - menu:\n      prompt: p\n      options: { 1: a }\n      timeout: 50ms\n", 5, "between 100ms and 120s"),
        ("steps:\n  - menu:\n      prompt: p\n      options: { 1: a }\n      retries: lots\n", 5, "`retries` must be a whole number, found `lots`"),
        ("steps:\n  - menu:\n      prompt: p\n      options: { 1: a }\n      retries: 11\n", 5, "`retries` is 11, must be between 0 and 10"),
        ("steps:\n  - menu:\n      prompt: p\n      options: { 1: a }\n      on_timeout: zz\n", 5, "`on_timeout` refers to unknown label `zz`"),
        ("steps:\n  - menu:\n      prompt: p\n      options: { 1: a }\n    barge_in: false\n", 5, "unknown key `barge_in` in menu step; allowed keys: label, menu"),
        ("steps:\n  - collect:\n      prompt: p\n", 3, "collect step is missing required key `var`"),
        ("steps:\n  - collect:\n      var: n\n      max_digits: 0\n", 4, "`max_digits` is 0, must be between 1 and 32"),
        ("steps:\n  - collect:\n      var: n\n      max_digits: 99\n", 4, "`max_digits` is 99, must be between 1 and 32"),
        ("steps:\n  - collect:\n      var: n\n      min_digits: 5\n      max_digits: 4\n", 4, "`min_digits` (5) is greater than `max_digits` (4)"),
        ("steps:\n  - collect:\n      var: n\n      terminator: \"5\"\n", 4, "`terminator` must be \"#\" or \"*\", found `5`"),
        ("steps:\n  - collect:\n      var: \"order number\"\n", 3, "bad variable name `order number`"),
        ("steps:\n  - say: hi\n   - say: ho\n", 3, "YAML syntax error"),
        ("steps:\n  - menu:\n      prompt: p\n      options: { *: a }\n", 4, "YAML aliases"),
        ("steps:\n  - say: a\n    say: b\n", 3, "duplicate key `say` (first on line 2)"),
    ];
    let long = "x".repeat(1025);
    for (snippet, line, needle) in cases {
        let snippet = &snippet.replace("{long}", &long);
        let text = format!(
            "{snippet}{}",
            if snippet.starts_with("steps:\n  -") {
                TAIL
            } else {
                ""
            }
        );
        let errors = errors_of(&text);
        let first = &errors[0];
        assert_eq!(first.line, Some(*line), "{snippet:?}: {first}");
        assert!(
            first.to_string().contains(needle),
            "{snippet:?}:\n got  {first}\n want {needle}"
        );
        assert!(
            first.to_string().starts_with(&format!("t.yaml:{line}: ")),
            "{first}"
        );
    }
}

#[test]
fn all_errors_are_collected_in_line_order() {
    let text = "\
name: x
steps:
  - label: start
    say: \"{unclosed\"
  - goto: nowhere
  - menu:
      prompt: pick
      options: { \"1\": start, \"x\": start }
      retries: -1
  - speak: hi
";
    let errors = errors_of(text);
    let lines: Vec<_> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [Some(4), Some(5), Some(8), Some(9), Some(10)]);
    let shown = DialplanErrors(errors).to_string();
    assert_eq!(shown.lines().count(), 5);
    assert!(shown.lines().all(|l| l.starts_with("t.yaml:")), "{shown}");
}

#[test]
fn out_of_scope_phrases_load_in_order_and_default_to_none() {
    let plan = load_str(
        "t.yaml",
        "out_of_scope:\n  - tell me a joke\n  - is this the dentist\nsteps:\n  - hangup:\n",
    )
    .unwrap();
    assert_eq!(
        plan.out_of_scope(),
        ["tell me a joke", "is this the dentist"]
    );
    let plan = load_str("t.yaml", "steps:\n  - hangup:\n").unwrap();
    assert!(plan.out_of_scope().is_empty());
}

#[test]
fn defaults_fill_in() {
    let plan = load_str(
        "dir/help.yaml",
        "steps:\n  - menu:\n      prompt: p\n      options: { 1: a }\n  - label: a\n    collect: { var: n }\n",
    )
    .unwrap();
    assert_eq!(plan.name, "help");
    assert_eq!(plan.voice, "en-us");
    assert_eq!(plan.start(), 0);
    let StepKind::Menu(menu) = &plan.steps()[0].kind else {
        panic!("not a menu")
    };
    assert_eq!(menu.input.timeout, Duration::from_secs(5));
    assert_eq!(menu.input.retries, 2);
    assert!(menu.input.barge_in);
    let StepKind::Collect(collect) = &plan.steps()[1].kind else {
        panic!("not a collect")
    };
    assert_eq!((collect.min_digits, collect.max_digits), (1, 16));
    assert_eq!(collect.terminator, None);
    assert_eq!(plan.steps()[1].label.as_deref(), Some("a"));
}

#[test]
fn short_and_long_forms() {
    let plan = load_str(
        "t.yaml",
        "start: b\nsteps:\n  - hangup: no-input\n  - label: b\n    transfer: \"tel:+15551234\"\n  - transfer: { to: \"SIPS:a@b\", on_failure: b }\n  - set: { x: \"{caller}\", y: \"1\" }\n    label: c\n",
    )
    .unwrap();
    assert_eq!(plan.start(), 1);
    assert_eq!(plan.label_index("c"), Some(3));
    assert_eq!(plan.steps()[0].kind, StepKind::Hangup(Disposition::NoInput));
    let StepKind::Transfer(t) = &plan.steps()[2].kind else {
        panic!()
    };
    assert_eq!(t.on_failure.as_ref().map(|t| t.index), Some(1));
    let StepKind::Set(assignments) = &plan.steps()[3].kind else {
        panic!()
    };
    assert_eq!(assignments.len(), 2);
    assert!(plan.warnings().is_empty());
}

#[test]
fn unset_variables_are_warnings_not_errors() {
    let plan = load_str(
        "t.yaml",
        "steps:\n  - say: \"Hi {caller}\"\n  - say: \"{who} {who}\"\n",
    )
    .unwrap();
    let warnings: Vec<_> = plan.warnings().iter().map(|w| w.to_string()).collect();
    assert_eq!(
        warnings,
        ["t.yaml:3: warning: variable `who` is never set (it renders empty)"]
    );
}

#[test]
fn play_resolves_against_the_file_directory() {
    let dir = tempfile::tempdir().unwrap();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(dir.path().join("hello.wav"), spec).unwrap();
    writer.write_sample(0i16).unwrap();
    writer.finalize().unwrap();
    std::fs::write(dir.path().join("junk.wav"), b"not a wav").unwrap();
    let plan_path = dir.path().join("plan.yaml");
    std::fs::write(
        &plan_path,
        "steps:\n  - play: hello.wav\n    barge_in: false\n",
    )
    .unwrap();
    let plan = load_file(&plan_path).unwrap();
    let StepKind::Play(play) = &plan.steps()[0].kind else {
        panic!()
    };
    assert_eq!(play.path, dir.path().join("hello.wav"));
    assert!(!play.barge_in);

    std::fs::write(&plan_path, "steps:\n  - play: junk.wav\n").unwrap();
    let errors = load_file(&plan_path).unwrap_err().to_string();
    assert!(
        errors.contains(":2: cannot play `junk.wav`: not a usable WAV file"),
        "{errors}"
    );
}

#[test]
fn unreadable_and_oversized_files() {
    let missing = load_file(Path::new("/nonexistent/plan.yaml")).unwrap_err();
    assert_eq!(missing.0[0].line, None);
    assert!(missing
        .to_string()
        .starts_with("/nonexistent/plan.yaml: cannot read"));
    let huge = "#".repeat(MAX_FILE_BYTES + 1);
    let too_large = load_str("big.yaml", &huge).unwrap_err();
    assert_eq!(too_large.0[0].problem, Problem::TooLarge(MAX_FILE_BYTES));
}

fn example(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("dialplans")
        .join(name)
}

#[test]
fn default_dialplan_loads_cleanly() {
    let plan = load_file(&example("default.yaml")).unwrap();
    assert_eq!(plan.name, "Example Shop help line");
    assert!(plan.warnings().is_empty(), "{:?}", plan.warnings());
    for label in ["greeting", "main_menu", "order_status", "agent", "goodbye"] {
        assert!(plan.label_index(label).is_some(), "{label}");
    }
    let report = check_file(&example("default.yaml"));
    assert!(report.ok);
    let want = format!("default.yaml: ok ({} steps)", plan.steps().len());
    assert!(report.output.ends_with(&want), "{}", report.output);
}

#[test]
fn check_reports_errors_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(&path, "steps:\n  - goto: x\n  - speak: y\n").unwrap();
    let report = check_file(&path);
    assert!(!report.ok);
    assert_eq!(report.output.lines().count(), 2, "{}", report.output);
    assert!(report
        .output
        .contains("bad.yaml:2: `goto` refers to unknown label `x`"));
}

/// YAML-looking noise, so generated inputs reach the validator, not just the scanner.
fn yamlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("steps:\n".to_string()),
        Just("  - ".to_string()),
        Just("    ".to_string()),
        Just("label: a\n".to_string()),
        Just("goto: a\n".to_string()),
        Just("say: \"{x|digits}\"\n".to_string()),
        Just("menu:\n".to_string()),
        Just("collect:\n".to_string()),
        Just("      options: { 1: a, \"#\": b }\n".to_string()),
        Just("      prompt: p\n".to_string()),
        Just("      var: v\n".to_string()),
        Just("      max_digits: 40\n".to_string()),
        Just("      timeout: 3s\n".to_string()),
        Just("transfer: sip:x@y\n".to_string()),
        Just("hangup:\n".to_string()),
        "[a-z{}:#*&\\[\\]\" -]{0,8}\n?",
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn load_str_never_panics_on_any_text(text in "\\PC{0,200}") {
        let _ = load_str("p.yaml", &text);
    }

    #[test]
    fn load_str_never_panics_on_yamlish_text(text in yamlish()) {
        if let Err(errors) = load_str("p.yaml", &text) {
            prop_assert!(!errors.0.is_empty());
        }
    }
}

#[test]
fn ask_steps_are_validated() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "steps:\n  - ask:\n      prompt: hi\n",
            3,
            "ask needs `intents`, `keys` or `capture`",
        ),
        (
            "intents:\n  a: [x]\nsteps:\n  - ask:\n      intents: {b: end}\n  - label: end\n    hangup:\n",
            5,
            "unknown intent `b`; declared: a, yes, no",
        ),
        (
            "intents:\n  yes: [sure]\nsteps:\n  - hangup:\n",
            2,
            "intent `yes` is built in and cannot be declared",
        ),
        (
            "intents:\n  a: []\nsteps:\n  - hangup:\n",
            2,
            "`intents.a` is 0, must be between 1 and 200",
        ),
        (
            "steps:\n  - ask:\n      capture: {var: x, entity: colour}\n",
            3,
            "unknown entity `colour`; expected digits, yes_no, order_number, account_number, phone_number, amount or date",
        ),
        (
            "steps:\n  - ticket: {priority: soon}\n",
            2,
            "unknown priority `soon`; expected low, normal, high or urgent",
        ),
        (
            "steps:\n  - ticket: {}\n",
            2,
            "ticket step is missing required key `priority` or `subject`",
        ),
        (
            "intents:\n  x:\n    label: \"\"\n    examples: [a]\nsteps:\n  - hangup:\n",
            3,
            "`label` is 0 characters",
        ),
        (
            "intents:\n  x: {label: X}\nsteps:\n  - hangup:\n",
            2,
            "intent `x` is missing required key `examples`",
        ),
        (
            "steps:\n  - ask:\n      capture: {var: x}\n      threshold: 2\n",
            4,
            "`threshold` must be a number between 0 and 1, found",
        ),
        (
            "steps:\n  - ask:\n      capture: {var: x}\n      on_no_match: nowhere\n",
            4,
            "`on_no_match` refers to unknown label `nowhere`",
        ),
    ];
    for (text, line, message) in cases {
        let errors = load_str("t.yaml", text).unwrap_err().to_string();
        let want = format!("t.yaml:{line}: {message}");
        assert!(
            errors.contains(&want),
            "{text:?}:\n got  {errors}\n want {want}"
        );
    }
}

#[test]
fn ask_hints_are_the_steps_own() {
    let plan = load_str(
        "t.yaml",
        "intents:\n  order: [check my order]\nsteps:\n  - ask:\n      hints: Order numbers,  have 4 digits.\n      intents: {order: done}\n  - ask:\n      intents: {order: done}\n  - label: done\n    hangup:\n",
    )
    .unwrap();
    let hints: Vec<&str> = plan
        .steps()
        .iter()
        .filter_map(|s| match &s.kind {
            StepKind::Ask(ask) => Some(ask.hints.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(hints, ["Order numbers, have 4 digits.", ""]);
}

#[test]
fn faq_files_load_beside_the_dialplan_and_report_their_own_lines() {
    let dir = tempfile::tempdir().unwrap();
    let plan_path = dir.path().join("plan.yaml");
    std::fs::write(&plan_path, "faq: kb.md\nsteps:\n  - hangup:\n").unwrap();
    std::fs::write(
        dir.path().join("kb.md"),
        "## Do you ship abroad?\nYes, to the EU.\n",
    )
    .unwrap();
    let plan = load_file(&plan_path).unwrap();
    assert_eq!(plan.faq().unwrap().articles[0].id, "do-you-ship-abroad");

    std::fs::write(dir.path().join("kb.md"), "# KB\n## Q?\nOne. Two. Three.\n").unwrap();
    let errors = load_file(&plan_path).unwrap_err().to_string();
    let kb = dir.path().join("kb.md").display().to_string();
    assert!(
        errors.contains(&format!("{kb}:2: knowledge file: answer has 3 sentences")),
        "{errors}"
    );

    std::fs::write(&plan_path, "faq: missing.md\nsteps:\n  - hangup:\n").unwrap();
    let errors = load_file(&plan_path).unwrap_err().to_string();
    assert!(errors.contains("plan.yaml:1: cannot read"), "{errors}");
}

#[test]
fn industry_dialplans_load_with_their_knowledge_files() {
    for name in ["ecommerce", "bank", "telecom", "government"] {
        let plan = load_file(&example(&format!("{name}.yaml"))).unwrap();
        assert!(plan.faq().is_some_and(|f| f.articles.len() >= 8), "{name}");
        let intents: Vec<&str> = plan
            .intents()
            .declared()
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        assert!(
            intents.contains(&"agent") && intents.contains(&"goodbye"),
            "{name}: {intents:?}"
        );
    }
}
