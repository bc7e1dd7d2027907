//! Table tests of [`extract_at`] / [`extract_for`] over Whisper-style transcripts.

use super::*;
use proptest::prelude::*;

/// A Wednesday.
fn today() -> CivilDate {
    CivilDate::new(2026, 6, 10).unwrap_or_else(|| panic!("valid test date"))
}

fn at(text: &str) -> Entities {
    extract_at(text, None, today())
}

#[test]
fn extract_combines_and_serializes_only_what_was_found() {
    let e = extract("Yes, it's one two three four.");
    assert_eq!(
        e,
        Entities {
            digits: Some("1234".into()),
            yes_no: Some(true),
            ..Entities::default()
        }
    );
    let json = serde_json::to_string(&e).unwrap_or_default();
    assert_eq!(json, r#"{"digits":"1234","yes_no":true}"#);
    let none = serde_json::to_string(&extract("hello there")).unwrap_or_default();
    assert_eq!(none, "{}");
}

#[test]
fn full_json_shape() {
    let e = extract_at(
        "My order 12345, pay $20.50 tomorrow at 3 p.m., call me on 555 123 4567",
        None,
        today(),
    );
    let json = serde_json::to_string(&e).unwrap_or_default();
    assert_eq!(
        json,
        r#"{"digits":"5551234567","order_number":"12345","phone_number":"5551234567","amount":{"value":"20.50","currency":"USD"},"date":"2026-06-11T15:00"}"#
    );
    let time = serde_json::to_string(&extract("at noon")).unwrap_or_default();
    assert_eq!(time, r#"{"time":"12:00"}"#);
}

#[test]
fn identifiers_table() {
    // (text, order, account, phone)
    type Row = (
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
    );
    let cases: &[Row] = &[
        ("My order number is 1, 2, 3, 4.", Some("1234"), None, None),
        (
            "my order number is one two three four",
            Some("1234"),
            None,
            None,
        ),
        ("Order number twelve thirty four.", Some("1234"), None, None),
        (
            "The tracking number is double five, seven, oh, nine.",
            Some("55709"),
            None,
            None,
        ),
        ("Reference 98765.", Some("98765"), None, None),
        (
            "It's about my parcel, 4 4 7 1 9.",
            Some("44719"),
            None,
            None,
        ),
        ("I have 2 orders, number 98765", Some("98765"), None, None),
        ("My account number is 5, 5, 5, 1.", None, Some("5551"), None),
        ("Customer number 20071.", None, Some("20071"), None),
        ("My card ends in 4242.", None, Some("4242"), None),
        ("Member ID 883322", None, Some("883322"), None),
        ("12345 is my account number", None, Some("12345"), None),
        (
            "My account is 5555 and the order is 1234.",
            Some("1234"),
            Some("5555"),
            None,
        ),
        (
            "My phone number is 555-123-4567.",
            None,
            None,
            Some("5551234567"),
        ),
        (
            "Call me back on 07700 900123.",
            None,
            None,
            Some("07700900123"),
        ),
        (
            "The number to call is 555 0199 88.",
            None,
            None,
            Some("555019988"),
        ),
        ("Mobile: +44 7700 900 123", None, None, Some("447700900123")),
        (
            "You can reach me, um, let me think, it's 555 867 5309, on the phone.",
            None,
            None,
            Some("5558675309"),
        ),
        // Too short for a phone number even with a cue.
        ("My phone number is 1234", None, None, None),
        // No cue: only `digits`.
        ("It's 5551234567.", None, None, None),
        ("I want one.", None, None, None),
        ("I want one order.", None, None, None),
        ("I want to return an item.", None, None, None),
        ("My number is 1234.", None, None, None),
        // Numbers inside amounts and dates are not identifiers.
        ("Pay $20 for order 12345.", Some("12345"), None, None),
        ("The order came on December 5th.", None, None, None),
    ];
    for (text, order, account, phone) in cases {
        let e = at(text);
        assert_eq!(e.order_number.as_deref(), *order, "order in {text:?}");
        assert_eq!(e.account_number.as_deref(), *account, "account in {text:?}");
        assert_eq!(e.phone_number.as_deref(), *phone, "phone in {text:?}");
    }
}

#[test]
fn expected_slot_takes_a_bare_digit_string() {
    let cases: &[(&str, Slot, &str)] = &[
        ("1, 2, 3, 4.", Slot::AccountNumber, "account 1234"),
        (
            "It's one two three four five.",
            Slot::OrderNumber,
            "order 12345",
        ),
        ("555 123 4567", Slot::PhoneNumber, "phone 5551234567"),
        // A cue still wins over the slot asked for.
        (
            "My order number is 4321.",
            Slot::AccountNumber,
            "order 4321",
        ),
        // Length rules hold: a phone number needs 7 digits.
        ("1234", Slot::PhoneNumber, "none"),
        ("I want one.", Slot::OrderNumber, "none"),
    ];
    for (text, slot, want) in cases {
        let e = extract_for(text, Some(*slot));
        let got = match (e.order_number, e.account_number, e.phone_number) {
            (Some(o), None, None) => format!("order {o}"),
            (None, Some(a), None) => format!("account {a}"),
            (None, None, Some(p)) => format!("phone {p}"),
            (None, None, None) => "none".to_owned(),
            other => format!("{other:?}"),
        };
        assert_eq!(got, *want, "{text:?} for {slot:?}");
    }
    assert_eq!(extract("1, 2, 3, 4.").account_number, None);
}

#[test]
fn amounts_table() {
    type Expected = Option<(&'static str, Option<&'static str>)>;
    let cases: &[(&str, Expected)] = &[
        ("$20.50", Some(("20.50", Some("USD")))),
        ("It's $20.5.", Some(("20.50", Some("USD")))),
        ("$20.00", Some(("20", Some("USD")))),
        ("20 dollars", Some(("20", Some("USD")))),
        ("£1,250", Some(("1250", Some("GBP")))),
        ("€5", Some(("5", Some("EUR")))),
        ("Fifty dollars.", Some(("50", Some("USD")))),
        ("Twenty bucks.", Some(("20", Some("USD")))),
        ("Ten quid.", Some(("10", Some("GBP")))),
        ("a hundred and twenty pounds", Some(("120", Some("GBP")))),
        ("thirty euros", Some(("30", Some("EUR")))),
        ("Twelve dollars fifty.", Some(("12.50", Some("USD")))),
        (
            "twelve dollars and five cents",
            Some(("12.05", Some("USD"))),
        ),
        ("twelve fifty dollars", Some(("12.50", Some("USD")))),
        ("I'd like to pay twelve fifty.", Some(("12.50", None))),
        (
            "Top up two thousand five hundred, please.",
            Some(("2500", None)),
        ),
        ("I want to pay 45.", Some(("45", None))),
        (
            "Can I get a refund of nineteen ninety nine?",
            Some(("19.99", None)),
        ),
        ("fifty cents", Some(("0.50", None))),
        ("50p", Some(("0.50", Some("GBP")))),
        (
            "I was charged $1,250.99 twice",
            Some(("1250.99", Some("USD"))),
        ),
        // No money said: no amount.
        ("twelve fifty", None),
        ("I want to return an item.", None),
        ("I want one.", None),
        ("I want to pay for two.", None),
        ("Pay my bill for order 12345.", None),
        ("I'd like to pay one two three four.", None),
    ];
    for (text, want) in cases {
        let got = at(text).amount;
        let got = got
            .as_ref()
            .map(|a| (a.value.as_str(), a.currency.as_deref()));
        assert_eq!(got, *want, "{text:?}");
    }
}

#[test]
fn expected_amount_takes_a_bare_number() {
    let e = extract_for("Fifty.", Some(Slot::Amount));
    assert_eq!(e.amount.map(|a| a.value), Some("50".to_owned()));
    let e = extract_for("twelve fifty", Some(Slot::Amount));
    assert_eq!(e.amount.map(|a| a.value), Some("12.50".to_owned()));
}

#[test]
fn dates_table() {
    // Today is Wednesday 2026-06-10.
    let cases: &[(&str, Option<&str>, Option<&str>)] = &[
        ("Today.", Some("2026-06-10"), None),
        ("Tomorrow.", Some("2026-06-11"), None),
        ("Tomorrow at 3 p.m.", Some("2026-06-11T15:00"), None),
        ("The day after tomorrow.", Some("2026-06-12"), None),
        ("In three days.", Some("2026-06-13"), None),
        ("in 2 weeks", Some("2026-06-24"), None),
        ("On Monday.", Some("2026-06-15"), None),
        ("Friday please", Some("2026-06-12"), None),
        ("This Friday.", Some("2026-06-12"), None),
        ("this Wednesday", Some("2026-06-10"), None),
        ("On Wednesday.", Some("2026-06-17"), None),
        ("Next Friday.", Some("2026-06-19"), None),
        ("next Monday at 10", Some("2026-06-15T10:00"), None),
        ("The fifth of December.", Some("2026-12-05"), None),
        ("December 5th.", Some("2026-12-05"), None),
        ("December the fifth", Some("2026-12-05"), None),
        ("5 December", Some("2026-12-05"), None),
        ("on the twenty first of June", Some("2026-06-21"), None),
        ("June 1st", Some("2027-06-01"), None),
        ("June 10", Some("2026-06-10"), None),
        ("December 5, 2027", Some("2027-12-05"), None),
        ("2026-12-05", Some("2026-12-05"), None),
        ("Feb 29", Some("2028-02-29"), None),
        ("At three.", None, Some("15:00")),
        ("At 3 p.m.", None, Some("15:00")),
        ("3pm", None, Some("15:00")),
        ("at nine", None, Some("09:00")),
        ("at 9 in the evening", None, Some("21:00")),
        ("at 7 am", None, Some("07:00")),
        ("At 12 a.m.", None, Some("00:00")),
        ("At half past two.", None, Some("14:30")),
        ("at quarter to four", None, Some("15:45")),
        ("at three thirty", None, Some("15:30")),
        ("at ten oh five", None, Some("10:05")),
        ("At 14:30.", None, Some("14:30")),
        ("at 07:30", None, Some("07:30")),
        ("at 3 o'clock", None, Some("15:00")),
        ("At noon.", None, Some("12:00")),
        ("midnight", None, Some("00:00")),
        // Ambiguous or not a date: nothing.
        ("12/05", None, None),
        ("February 30th", None, None),
        ("three", None, None),
        ("I may call back", None, None),
        ("wait a second", None, None),
        ("at 1234", None, None),
        ("I want to return an item.", None, None),
        ("at 25:00", None, None),
    ];
    for (text, date, time) in cases {
        let e = at(text);
        assert_eq!(
            (e.date.as_deref(), e.time.as_deref()),
            (*date, *time),
            "{text:?}"
        );
    }
}

#[test]
fn one_utterance_several_entities() {
    let e = at("My order number is 1, 2, 3, 4. Can you deliver it on Monday?");
    assert_eq!(e.order_number.as_deref(), Some("1234"));
    assert_eq!(e.date.as_deref(), Some("2026-06-15"));
    let e = at("Call me at 3.");
    assert_eq!((e.phone_number, e.time.as_deref()), (None, Some("15:00")));
    let e = at("Yes, charge £12.99 to my card ending 4242 on the 5th of July.");
    assert_eq!(e.yes_no, Some(true));
    assert_eq!(
        e.amount.map(|a| (a.value, a.currency)),
        Some(("12.99".into(), Some("GBP".into())))
    );
    assert_eq!(e.account_number.as_deref(), Some("4242"));
    assert_eq!(e.date.as_deref(), Some("2026-07-05"));
}

#[test]
fn without_a_reference_date_only_absolute_dates_resolve() {
    let e = extract("Tomorrow at 3 p.m.");
    assert_eq!((e.date, e.time.as_deref()), (None, Some("15:00")));
    assert_eq!(extract("December 5th").date, None);
    assert_eq!(
        extract("December 5th, 2026 at noon").date.as_deref(),
        Some("2026-12-05T12:00")
    );
    assert_eq!(extract("2026-12-05").date.as_deref(), Some("2026-12-05"));
}

#[test]
fn expected_date_takes_a_bare_time() {
    let e = extract_at("three thirty", Some(Slot::Date), today());
    assert_eq!(e.time.as_deref(), Some("15:30"));
    assert_eq!(at("three thirty").time, None);
}

#[test]
fn the_last_day_of_the_calendar_does_not_panic() {
    let Some(last) = CivilDate::new(9999, 12, 31) else {
        panic!("valid date")
    };
    let e = extract_at(
        "tomorrow, next Monday, in 300 days, January 1st",
        None,
        last,
    );
    assert_eq!(e.date, None);
}

proptest! {
    #[test]
    fn extract_never_panics(text in "\\PC{0,400}", slot in 0usize..8) {
        let expected = [
            Slot::OrderNumber, Slot::AccountNumber, Slot::PhoneNumber, Slot::Amount,
            Slot::Date, Slot::Digits, Slot::YesNo,
        ].get(slot).copied();
        let e = extract_at(&text, expected, today());
        for id in [&e.order_number, &e.account_number, &e.phone_number].into_iter().flatten() {
            prop_assert!(!id.is_empty() && id.len() <= MAX_DIGITS);
            prop_assert!(id.bytes().all(|b| b.is_ascii_digit()));
        }
        if let Some(a) = &e.amount {
            prop_assert!(a.value.bytes().all(|b| b.is_ascii_digit() || b == b'.'));
        }
    }

    #[test]
    fn entity_word_soup_never_panics(words in proptest::collection::vec(
        "at|on|in|the|of|next|this|day|after|tomorrow|monday|december|may|fifth|5th|5|3|\
         14:30|pm|a|m|half|past|quarter|to|twelve|fifty|dollars|\\$|£|20.50|1,250|cents|and|\
         pay|order|account|phone|call|me|one|two|oh|double|hundred|thousand|2026-02-30",
        0..80)) {
        let e = extract_at(&words.join(" "), Some(Slot::Date), today());
        prop_assert!(e.date.as_ref().is_none_or(|d| d.len() == 10 || d.len() == 16));
        prop_assert!(e.time.as_ref().is_none_or(|t| t.len() == 5));
    }

    #[test]
    fn long_input_is_bounded(word in "[a-z0-9$£.,: ]{1,12}", n in 1000usize..5000) {
        let e = extract_at(&word.repeat(n), None, today());
        prop_assert!(e.digits.as_ref().is_none_or(|d| d.len() <= MAX_DIGITS));
    }
}

#[test]
fn entities_stay_small() {
    // `Entities` rides inline in `dialplan::TurnRecord::Understood` and so in every
    // `dialplan::Action`; much bigger and clippy's large_enum_variant fires there.
    assert!(std::mem::size_of::<Entities>() <= 160);
}

#[test]
fn national_phone_numbers_need_no_cue_and_slang_amounts_count() {
    // (text, phone number, amount value)
    let cases = [
        (
            "can I pay fifteen pounds onto 07700 900321",
            Some("07700900321"),
            Some("15"),
        ),
        ("the number's 0113 496 0123", Some("01134960123"), None),
        (
            "my number is zero seven nine one one two two three three four four",
            Some("07911223344"),
            None,
        ),
        // Ten digits without the trunk 0 may be anything: only a cue makes it a phone.
        ("it's 5551234567", None, None),
        ("stick a tenner on my mobile please", None, Some("10")),
        ("a fiver will do", None, Some("5")),
        ("what rate if I borrowed five grand", None, Some("5000")),
        ("can I add twenty", None, Some("20")),
        // A small count after "add" is not money.
        ("add two to my basket", None, None),
    ];
    for (text, phone, amount) in cases {
        let e = extract(text);
        assert_eq!(e.phone_number.as_deref(), phone, "{text:?}");
        assert_eq!(
            e.amount.as_ref().map(|a| a.value.as_str()),
            amount,
            "{text:?}"
        );
    }
}
