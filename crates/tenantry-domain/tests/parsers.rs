//! Every parser of the domain, fed arbitrary input: it never panics, what it accepts keeps
//! the rules it states, and a value it made parses again to itself.

use proptest::prelude::*;
use tenantry_domain::values::is_visible;
use tenantry_domain::{
    BillingCycleDay, DomainName, Email, HttpUrl, LlmCredentials, Logo, Metadata, Modules,
    OrganizationName, Quota, SalesforceCode, TextLine, limits,
};

/// Strings that reach the interesting corners: controls, invisible and bidirectional
/// characters, white space, ASCII punctuation, and any character at all.
fn text() -> impl Strategy<Value = String> {
    let special = prop_oneof![
        Just('\u{0}'),
        Just('\n'),
        Just(' '),
        Just('\u{a0}'),
        Just('\u{200b}'),
        Just('\u{200d}'),
        Just('\u{202e}'),
        Just('\u{2066}'),
        Just('\u{feff}'),
        Just('\u{85}'),
        Just('.'),
        Just('@'),
        Just('-'),
        Just(':'),
        Just('/'),
    ];
    let any = prop_oneof![
        3 => proptest::char::range('a', 'z'),
        2 => special,
        1 => any::<char>(),
    ];
    proptest::collection::vec(any, 0..80).prop_map(|chars| chars.into_iter().collect())
}

fn json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        text().prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(text(), inner, 0..8)
                .prop_map(|m| { serde_json::Value::Object(m.into_iter().collect()) }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn names_accepted_show_something_and_hold_no_control(input in text()) {
        let parsed = [
            OrganizationName::parse(input.clone()).map(|n| n.into_inner()),
            TextLine::parse(input.clone(), limits::TEXT_LINE_MAX_CHARS).map(TextLine::into_inner),
        ];
        for name in parsed.into_iter().flatten() {
            prop_assert!(name.chars().any(is_visible));
            prop_assert!(!name.chars().any(char::is_control));
            let bidi = name.chars().any(|c| {
                matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
            });
            prop_assert!(!bidi);
            prop_assert!(name.chars().count() <= limits::NAME_MAX_CHARS);
            prop_assert!(OrganizationName::parse(name.clone()).is_ok());
        }
    }

    #[test]
    fn text_values_parse_again_to_themselves(input in text()) {
        if let Ok(email) = Email::parse(input.clone()) {
            prop_assert_eq!(Email::parse(email.as_str()).unwrap(), email.clone());
            prop_assert!(email.as_str().chars().count() <= limits::EMAIL_MAX_CHARS);
        }
        if let Ok(domain) = DomainName::parse(&input) {
            prop_assert_eq!(DomainName::parse(domain.as_str()).unwrap(), domain.clone());
        }
        if let Ok(url) = HttpUrl::parse(input.clone()) {
            prop_assert!(url.as_str().starts_with("http"));
            prop_assert_eq!(HttpUrl::parse(url.as_str()).unwrap(), url.clone());
        }
        if let Ok(code) = SalesforceCode::parse(input.clone()) {
            prop_assert_eq!(SalesforceCode::parse(code.as_str()).unwrap(), code.clone());
        }
        let _ = Modules::parse(input.split(','));
    }

    #[test]
    fn numbers_are_taken_within_their_bounds(value in any::<i64>()) {
        if let Ok(quota) = Quota::parse(value) {
            prop_assert!(i64::from(quota.get()) == value && value >= 0);
        }
        if let Ok(day) = BillingCycleDay::parse(value) {
            prop_assert!((1..=28).contains(&i64::from(day.get())));
        }
    }

    #[test]
    fn logos_parse_from_any_data_url_without_panicking(
        kind in prop_oneof![Just("png"), Just("jpeg"), Just("gif"), Just("webp"), Just("svg+xml")],
        bytes in proptest::collection::vec(any::<u8>(), 0..64),
        garbage in text(),
    ) {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
        for candidate in [
            format!("data:image/{kind};base64,{encoded}"),
            format!("data:image/{kind};base64,{garbage}"),
            garbage.clone(),
        ] {
            if let Ok(logo) = Logo::parse_data_url(&candidate) {
                prop_assert!(logo.bytes().len() <= limits::LOGO_MAX_BYTES);
                prop_assert_eq!(Logo::parse_data_url(&logo.to_data_url()).unwrap(), logo.clone());
            }
        }
    }

    #[test]
    fn metadata_and_credentials_take_any_json_without_panicking(value in json()) {
        if let Ok(metadata) = Metadata::parse(value.clone()) {
            prop_assert!(metadata.as_map().len() <= limits::METADATA_MAX_KEYS);
            prop_assert_eq!(Metadata::parse(metadata.to_json()).unwrap(), metadata.clone());
        }
        if let serde_json::Value::Object(map) = value {
            let entries = map
                .into_iter()
                .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned()));
            let _ = LlmCredentials::parse(entries);
        }
    }
}
