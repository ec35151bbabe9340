//! What a JSON parser forgives and the API must not: an object that names a key twice (the
//! last would silently win) and a number that cannot be kept as sent (it would come back
//! rounded). Both are found in the body's text, before it is deserialized.

use std::collections::HashSet;
use std::fmt;

use serde::de::{Deserializer as _, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::{ApiError, FieldError};

/// How deeply arrays and objects may nest in a request body. Each level is scanned once
/// more, so the bound also bounds the work a body can cost.
pub(crate) const MAX_DEPTH: usize = 32;

/// Checks a body that is valid JSON: no object repeats a key (a 400 naming it), nesting
/// stays within [`MAX_DEPTH`] (a 400), and every number is one this API keeps exactly (a
/// 422 naming each one that is not).
pub(crate) fn check(body: &[u8]) -> Result<(), ApiError> {
    let root: &RawValue = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
    let mut lossy = Vec::new();
    walk(root, &mut String::new(), 0, &mut lossy)?;
    if lossy.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(lossy))
    }
}

fn walk(
    value: &RawValue,
    path: &mut String,
    depth: usize,
    lossy: &mut Vec<FieldError>,
) -> Result<(), ApiError> {
    let text = value.get();
    match text.as_bytes().first() {
        Some(b'{' | b'[') if depth >= MAX_DEPTH => Err(ApiError::BadRequest(format!(
            "the body nests arrays and objects deeper than {MAX_DEPTH} levels"
        ))),
        Some(b'{') => {
            let entries = parse_members(text)?;
            let mut seen = HashSet::with_capacity(entries.len());
            for (key, _) in &entries {
                if !seen.insert(key.as_str()) {
                    let field = join(path, key);
                    return Err(ApiError::MalformedField {
                        detail: format!("the body names {field} more than once"),
                        fields: vec![FieldError::new(field, "appears more than once")],
                    });
                }
            }
            for (key, item) in entries {
                let len = path.len();
                *path = join(path, &key);
                walk(item, path, depth + 1, lossy)?;
                path.truncate(len);
            }
            Ok(())
        }
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_str(text)
                .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
            for (index, item) in items.into_iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{index}]"));
                walk(item, path, depth + 1, lossy)?;
                path.truncate(len);
            }
            Ok(())
        }
        Some(b'-' | b'0'..=b'9') => {
            if !number_is_kept(text) {
                lossy.push(FieldError::new(
                    path.clone(),
                    "is a number this API cannot keep exactly: integers must fit in 64 bits, \
                     and decimals in a double-precision number as written",
                ));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// An object's members in order, duplicates included.
fn parse_members(text: &str) -> Result<Vec<(String, &RawValue)>, ApiError> {
    struct Members;

    impl<'de> Visitor<'de> for Members {
        type Value = Vec<(String, &'de RawValue)>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(key) = map.next_key::<String>()? {
                out.push((key, map.next_value::<&RawValue>()?));
            }
            Ok(out)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(serde::de::Error::custom("expected an object"))
        }
    }

    let mut deserializer = serde_json::Deserializer::from_str(text);
    deserializer
        .deserialize_map(Members)
        .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))
}

/// Whether a JSON number literal comes back from this API with the same value: an integer
/// within 64 bits, or a number a double holds exactly as written (its shortest decimal
/// form has the same digits and exponent).
pub(crate) fn number_is_kept(literal: &str) -> bool {
    let integer = !literal.contains(['.', 'e', 'E']);
    if integer {
        return literal.parse::<i64>().is_ok() || literal.parse::<u64>().is_ok();
    }
    let Ok(float) = literal.parse::<f64>() else {
        return false;
    };
    if !float.is_finite() {
        return false;
    }
    decimal(literal) == decimal(&format!("{float:e}"))
}

/// A decimal literal as (negative, significant digits, exponent of the last digit), with
/// leading and trailing zeros removed; zero is `(false, "", 0)`.
fn decimal(literal: &str) -> (bool, String, i64) {
    let (negative, rest) = match literal.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, literal),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(at) => (
            &rest[..at],
            rest[at + 1..]
                .trim_start_matches('+')
                .parse::<i64>()
                .unwrap_or(0),
        ),
        None => (rest, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits: String = format!("{whole}{fraction}");
    let mut exponent = exponent - fraction.len() as i64;
    while digits.ends_with('0') {
        digits.pop();
        exponent += 1;
    }
    let digits = digits.trim_start_matches('0').to_owned();
    if digits.is_empty() {
        return (false, digits, 0);
    }
    (negative, digits, exponent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_a_double_keeps_are_kept() {
        for kept in [
            "0",
            "-0",
            "1",
            "-9223372036854775808",
            "18446744073709551615",
            "0.1",
            "1.50",
            "1e2",
            "1E+2",
            "2.5e-3",
            "123456789.125",
            "1.7976931348623157e308",
            "0.000",
        ] {
            assert!(number_is_kept(kept), "{kept}");
        }
        for lossy in [
            "123456789012345678901234567890",
            "18446744073709551616",
            "-9223372036854775809",
            "0.10000000000000000001",
            "3.14159265358979323846",
            "9007199254740993.0",
            "1e400",
        ] {
            assert!(!number_is_kept(lossy), "{lossy}");
        }
    }

    #[test]
    fn a_repeated_key_is_named_wherever_it_is() {
        let error = check(br#"{"a":{"b":1,"b":2}}"#).unwrap_err();
        let problem = error.problem();
        assert_eq!(problem.status, 400);
        assert_eq!(problem.errors[0].field, "a.b");
        assert!(check(br#"{"a":[{"x":1},{"x":2}]}"#).is_ok());
        let error = check(br#"{"list":[{"x":1,"x":1}]}"#).unwrap_err();
        assert_eq!(error.problem().errors[0].field, "list[0].x");
    }

    #[test]
    fn lossy_numbers_are_named() {
        let error = check(br#"{"m":{"big":123456789012345678901234567890,"ok":1.5}}"#)
            .unwrap_err()
            .problem();
        assert_eq!(error.status, 422);
        assert_eq!(error.errors.len(), 1);
        assert_eq!(error.errors[0].field, "m.big");
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(check(deep.as_bytes()).unwrap_err().problem().status, 400);
        let fine = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(check(fine.as_bytes()).is_ok());
    }
}
