//! How stored values are spelled in an export, so that a row reads back the same from any
//! database: timestamps in UTC to the microsecond (the precision every supported database
//! keeps), dates as `YYYY-MM-DD`, bytes in base64, and JSON values with their keys sorted
//! (PostgreSQL orders an object's keys its own way, SQLite keeps them as written).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{Date, OffsetDateTime, UtcOffset};

const TIMESTAMP: &[BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
const DATE: &[BorrowedFormatItem<'_>] = format_description!("[year]-[month]-[day]");

fn format_timestamp(at: &OffsetDateTime) -> Result<String, time::error::Format> {
    at.to_offset(UtcOffset::UTC).format(TIMESTAMP)
}

fn parse_timestamp(text: &str) -> Result<OffsetDateTime, time::error::Parse> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
}

pub(crate) mod timestamp {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(at: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        format_timestamp(at)
            .map_err(serde::ser::Error::custom)?
            .serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let text = String::deserialize(d)?;
        parse_timestamp(&text).map_err(serde::de::Error::custom)
    }
}

pub(crate) mod timestamp_option {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        at: &Option<OffsetDateTime>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        at.as_ref()
            .map(format_timestamp)
            .transpose()
            .map_err(serde::ser::Error::custom)?
            .serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| parse_timestamp(&text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

pub(crate) mod date {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(date: &Date, s: S) -> Result<S::Ok, S::Error> {
        date.format(DATE)
            .map_err(serde::ser::Error::custom)?
            .serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let text = String::deserialize(d)?;
        Date::parse(&text, DATE).map_err(serde::de::Error::custom)
    }
}

pub(crate) mod date_option {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(date: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
        date.map(|date| date.format(DATE))
            .transpose()
            .map_err(serde::ser::Error::custom)?
            .serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| Date::parse(&text, DATE).map_err(serde::de::Error::custom))
            .transpose()
    }
}

pub(crate) mod bytes_option {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        bytes: &Option<Vec<u8>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        bytes.as_ref().map(|b| STANDARD.encode(b)).serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| STANDARD.decode(text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// A JSON value: keys sorted at every depth (arrays keep their order).
pub(crate) mod json {
    use serde_json::Value;

    use super::*;

    pub(crate) fn serialize<S: Serializer>(value: &Value, s: S) -> Result<S::Ok, S::Error> {
        sorted(value).serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }

    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.clone(), sorted(v)))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_to_the_microsecond_and_read_back() {
        let at = OffsetDateTime::parse(
            "2026-11-25T15:04:05.123456789+01:00",
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        let text = format_timestamp(&at).unwrap();
        assert_eq!(text, "2026-11-25T14:04:05.123456Z");
        let back = parse_timestamp(&text).unwrap();
        assert_eq!(format_timestamp(&back).unwrap(), text);
    }

    #[test]
    fn json_keys_are_sorted_at_every_depth() {
        #[derive(Serialize)]
        struct Row {
            #[serde(with = "json")]
            value: serde_json::Value,
        }
        let value: serde_json::Value =
            serde_json::from_str(r#"{"b":1,"a":{"z":[{"y":1,"x":2}],"c":null}}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&Row { value }).unwrap(),
            r#"{"value":{"a":{"c":null,"z":[{"x":2,"y":1}]},"b":1}}"#
        );
    }
}
