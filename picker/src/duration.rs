//! Protobuf `Duration` in its JSON form: decimal seconds with a trailing `s`.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A non-negative duration written on the wire as decimal seconds with a trailing
/// `s` and at most 9 fraction digits (`"5s"`, `"3.5s"`, `"0.000846605s"`).
///
/// Always parsed as a decimal: `"3.5s"` is three and a half seconds, never 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    /// A duration of whole seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Duration(std::time::Duration::from_secs(secs))
    }

    /// A duration of milliseconds.
    pub const fn from_millis(millis: u64) -> Self {
        Duration(std::time::Duration::from_millis(millis))
    }

    /// The std duration inside.
    pub const fn get(self) -> std::time::Duration {
        self.0
    }
}

impl From<std::time::Duration> for Duration {
    fn from(d: std::time::Duration) -> Self {
        Duration(d)
    }
}

impl From<Duration> for std::time::Duration {
    fn from(d: Duration) -> Self {
        d.0
    }
}

/// Why a duration string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason}")]
pub struct DurationParseError {
    input: String,
    reason: &'static str,
}

impl DurationParseError {
    fn new(input: &str, reason: &'static str) -> Self {
        DurationParseError {
            input: input.to_owned(),
            reason,
        }
    }
}

impl FromStr for Duration {
    type Err = DurationParseError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let body = input
            .strip_suffix('s')
            .ok_or_else(|| DurationParseError::new(input, "missing trailing 's'"))?;
        if body.starts_with('-') {
            return Err(DurationParseError::new(input, "negative"));
        }
        let (whole, fraction) = match body.split_once('.') {
            Some((w, f)) => (w, f),
            None => (body, ""),
        };
        if whole.is_empty() && fraction.is_empty() {
            return Err(DurationParseError::new(input, "no digits"));
        }
        if !whole.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(DurationParseError::new(input, "not a decimal number"));
        }
        if fraction.len() > 9 {
            return Err(DurationParseError::new(
                input,
                "more than 9 fraction digits",
            ));
        }
        let secs: u64 = if whole.is_empty() {
            0
        } else {
            whole
                .parse()
                .map_err(|_| DurationParseError::new(input, "seconds out of range"))?
        };
        // "5" → 500_000_000 ns: pad the fraction to 9 digits.
        let mut nanos: u32 = 0;
        for i in 0..9 {
            let digit = fraction
                .as_bytes()
                .get(i)
                .map_or(0, |b| u32::from(b - b'0'));
            nanos = nanos * 10 + digit;
        }
        Ok(Duration(std::time::Duration::new(secs, nanos)))
    }
}

/// Writes the fraction of a second as Google's JSON mapping does (proto3): none,
/// or 3, 6 or 9 digits, as few as hold it exactly.
pub(crate) fn write_fraction(f: &mut impl fmt::Write, nanos: u32) -> fmt::Result {
    if nanos == 0 {
        Ok(())
    } else if nanos.is_multiple_of(1_000_000) {
        write!(f, ".{:03}", nanos / 1_000_000)
    } else if nanos.is_multiple_of(1_000) {
        write!(f, ".{:06}", nanos / 1_000)
    } else {
        write!(f, ".{nanos:09}")
    }
}

/// As Google writes a duration: decimal seconds with 0, 3, 6 or 9 fraction digits
/// and an `s` (`"5s"`, `"1799.500s"`).
impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.as_secs())?;
        write_fraction(f, self.0.subsec_nanos())?;
        f.write_str("s")
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;
        impl Visitor<'_> for DurationVisitor {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string such as \"3.5s\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(DurationVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration as Std;

    #[test]
    fn parses_decimal_seconds() {
        let cases = [
            ("5s", Std::from_secs(5)),
            ("1800s", Std::from_secs(1800)),
            ("3.5s", Std::from_millis(3500)),
            ("0.000846605s", Std::from_nanos(846_605)),
            ("0s", Std::ZERO),
            ("0.0s", Std::ZERO),
            (".5s", Std::from_millis(500)),
            ("7.s", Std::from_secs(7)),
            ("1.000000001s", Std::new(1, 1)),
        ];
        for (text, want) in cases {
            assert_eq!(text.parse::<Duration>().unwrap().0, want, "{text}");
        }
    }

    #[test]
    fn rejects_malformed_durations() {
        for bad in [
            "",
            "s",
            "5",
            "-1s",
            "1.5.5s",
            "1e3s",
            "0.0000000001s",
            " 5s",
            "5 s",
            "abc s",
            ".s",
        ] {
            assert!(
                bad.parse::<Duration>().is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn formats_as_google_with_0_3_6_or_9_fraction_digits() {
        assert_eq!(Duration(Std::from_secs(5)).to_string(), "5s");
        assert_eq!(Duration(Std::from_millis(3500)).to_string(), "3.500s");
        assert_eq!(Duration(Std::from_micros(1_500)).to_string(), "0.001500s");
        assert_eq!(
            Duration(Std::from_micros(1_234_567)).to_string(),
            "1.234567s"
        );
        assert_eq!(
            Duration(Std::from_nanos(846_605)).to_string(),
            "0.000846605s"
        );
        assert_eq!(Duration(Std::ZERO).to_string(), "0s");
    }

    #[test]
    fn json_round_trip_is_a_string() {
        let d = Duration(Std::from_millis(2250));
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, "\"2.250s\"");
        assert_eq!(serde_json::from_str::<Duration>(&json).unwrap(), d);
    }

    #[test]
    fn json_number_is_not_a_duration() {
        // The wire form is always a string; a bare number would be a client bug.
        assert!(serde_json::from_str::<Duration>("5").is_err());
    }
}
