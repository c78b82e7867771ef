//! Mesos's duration syntax, as flags (`--agent_ping_timeout=15secs`) and
//! executor environments (`MESOS_RECOVERY_TIMEOUT=15mins`) write it.
//!
//! [`parse`] reads a number (integer or decimal) followed by a unit:
//!
//! | unit | also accepted |
//! |---|---|
//! | `ns`, `us`, `ms` | |
//! | `secs` | `s`, `sec`, or no unit at all |
//! | `mins` | `m`, `min` |
//! | `hrs` | `h`, `hr` |
//! | `days` | `d`, `day` |
//! | `weeks` | `w`, `week` |
//!
//! Mesos itself takes only the first column; the short forms and the bare
//! number of seconds are Meseta's own leniency, kept because our flags have
//! always taken them. Blanks around the text and between the number and the
//! unit are ignored. Negative durations, and durations too long for a
//! [`Duration`], are errors.
//!
//! [`format()`] writes a duration back in the form Mesos puts in executor
//! environments: whole seconds as `secs`, else the largest of `ms`, `us`,
//! `ns` that keeps it exact.

use std::time::Duration;

/// Why a text is not a duration. Every message quotes the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// There is no number where the text should start.
    #[error("{text:?} is not a duration like 15secs or 500ms")]
    NotANumber {
        /// The text, trimmed.
        text: String,
    },
    /// The number is followed by something that is not a unit.
    #[error(
        "unknown duration unit {unit:?} in {text:?} \
         (expected ns, us, ms, secs, mins, hrs, days or weeks)"
    )]
    UnknownUnit {
        /// The text, trimmed.
        text: String,
        /// What followed the number.
        unit: String,
    },
    /// The number is below zero.
    #[error("{text:?} is negative; a duration cannot be")]
    Negative {
        /// The text, trimmed.
        text: String,
    },
    /// The duration does not fit a [`Duration`].
    #[error("{text:?} is too long a duration")]
    TooLarge {
        /// The text, trimmed.
        text: String,
    },
}

/// How a unit turns its number into seconds: multiplied (exact for whole
/// numbers) or divided (one rounding, where multiplying by `1e-9` would add
/// a second one).
enum Scale {
    Times(f64),
    Over(f64),
}

fn scale(unit: &str) -> Option<Scale> {
    Some(match unit {
        "ns" => Scale::Over(1e9),
        "us" => Scale::Over(1e6),
        "ms" => Scale::Over(1e3),
        "" | "s" | "sec" | "secs" => Scale::Times(1.0),
        "m" | "min" | "mins" => Scale::Times(60.0),
        "h" | "hr" | "hrs" => Scale::Times(3_600.0),
        "d" | "day" | "days" => Scale::Times(86_400.0),
        "w" | "week" | "weeks" => Scale::Times(604_800.0),
        _ => return None,
    })
}

/// Parses a Mesos duration (see the module docs): `15secs`, `500ms`,
/// `1.5hrs`, `2weeks`, `3` (seconds).
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let number_len = text.len() - unsigned.len()
        + unsigned
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(unsigned.len());
    let (number, unit) = text.split_at(number_len);
    // Only digits, dots and a sign reach `parse`: no `inf`, no `NaN`.
    let value: f64 = number.parse().map_err(|_| DurationError::NotANumber {
        text: text.to_string(),
    })?;
    let unit = unit.trim_start();
    let scale = scale(unit).ok_or_else(|| DurationError::UnknownUnit {
        text: text.to_string(),
        unit: unit.to_string(),
    })?;
    if value < 0.0 {
        return Err(DurationError::Negative {
            text: text.to_string(),
        });
    }
    let seconds = match scale {
        Scale::Times(factor) => value * factor,
        Scale::Over(divisor) => value / divisor,
    };
    // Fails for infinity (a number of 309 digits) and anything past
    // `Duration::MAX`; `value` is neither negative nor NaN here.
    Duration::try_from_secs_f64(seconds).map_err(|_| DurationError::TooLarge {
        text: text.to_string(),
    })
}

/// Writes `duration` as Mesos writes durations into executor environments:
/// `5secs`, `1500ms`, `250us`, `7ns`. [`parse`] reads it back (exactly, as
/// long as the number has no more than the 15 or so digits an `f64` holds).
pub fn format(duration: Duration) -> String {
    // Compared rather than `is_multiple_of` (Rust 1.87): the client core,
    // which uses this crate, builds with Rust 1.85.
    let nanos = duration.subsec_nanos();
    if nanos == 0 {
        format!("{}secs", duration.as_secs())
    } else if nanos == duration.subsec_millis() * 1_000_000 {
        format!("{}ms", duration.as_millis())
    } else if nanos == duration.subsec_micros() * 1_000 {
        format!("{}us", duration.as_micros())
    } else {
        format!("{}ns", duration.as_nanos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Duration {
        parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    #[test]
    fn every_mesos_unit() {
        assert_eq!(ok("7ns"), Duration::from_nanos(7));
        assert_eq!(ok("10us"), Duration::from_micros(10));
        assert_eq!(ok("250ms"), Duration::from_millis(250));
        assert_eq!(ok("15secs"), Duration::from_secs(15));
        assert_eq!(ok("15mins"), Duration::from_secs(900));
        assert_eq!(ok("2hrs"), Duration::from_secs(7_200));
        assert_eq!(ok("1days"), Duration::from_secs(86_400));
        assert_eq!(ok("1weeks"), Duration::from_secs(604_800));
    }

    #[test]
    fn short_units_and_bare_seconds() {
        assert_eq!(ok("3"), Duration::from_secs(3));
        for (text, seconds) in [
            ("3s", 3),
            ("3sec", 3),
            ("2m", 120),
            ("2min", 120),
            ("1h", 3_600),
            ("1hr", 3_600),
            ("1d", 86_400),
            ("1day", 86_400),
            ("1w", 604_800),
            ("1week", 604_800),
        ] {
            assert_eq!(ok(text), Duration::from_secs(seconds), "{text:?}");
        }
    }

    #[test]
    fn fractions_blanks_and_signs() {
        assert_eq!(ok("1.5secs"), Duration::from_millis(1_500));
        assert_eq!(ok("0.5ms"), Duration::from_micros(500));
        assert_eq!(ok(".25mins"), Duration::from_secs(15));
        assert_eq!(ok("2.secs"), Duration::from_secs(2));
        assert_eq!(ok("0.1secs"), Duration::from_millis(100));
        assert_eq!(ok("1.5us"), Duration::from_nanos(1_500));
        assert_eq!(ok("  5 secs\n"), Duration::from_secs(5));
        assert_eq!(ok("+5secs"), Duration::from_secs(5));
        assert_eq!(ok("0secs"), Duration::ZERO);
        assert_eq!(ok("0"), Duration::ZERO);
        // Zero with a sign is still zero (the executor's parser took it).
        assert_eq!(ok("-0secs"), Duration::ZERO);
    }

    #[test]
    fn bad_input_is_an_error_with_the_text_in_it() {
        for bad in [
            "",
            "   ",
            "secs",
            "fast",
            ".",
            "+",
            "-",
            "1.2.3secs",
            "-",
            "NaN",
            "NaNsecs",
            "inf",
            "infsecs",
            "+-1secs",
            "- 1secs",
        ] {
            assert!(
                matches!(parse(bad), Err(DurationError::NotANumber { .. })),
                "{bad:?}: {:?}",
                parse(bad)
            );
        }
        for bad in [
            "5 parsecs",
            "3parsecs",
            "1e400secs",
            "1e3",
            "5 secs ago",
            "5SECS",
            "5secs5",
            "5_000ms",
        ] {
            assert!(
                matches!(parse(bad), Err(DurationError::UnknownUnit { .. })),
                "{bad:?}: {:?}",
                parse(bad)
            );
        }
        for bad in ["-1secs", "-0.5ms", "-3"] {
            assert_eq!(
                parse(bad),
                Err(DurationError::Negative {
                    text: bad.to_string()
                })
            );
        }
        let error = parse(" 5 parsecs ").unwrap_err().to_string();
        assert!(
            error.contains("\"5 parsecs\"") && error.contains("\"parsecs\""),
            "{error}"
        );
    }

    #[test]
    fn huge_values_are_errors_not_panics() {
        let too_long = [
            "18446744073709551616secs".to_string(),
            "99999999999999999999999999999weeks".to_string(),
            format!("{}secs", "9".repeat(400)),
            format!("{}ns", "9".repeat(400)),
            format!("1{}", "0".repeat(30)),
        ];
        for text in &too_long {
            assert_eq!(
                parse(text),
                Err(DurationError::TooLarge { text: text.clone() }),
                "{text:?}"
            );
        }
        // Long ones below the limit still fit.
        assert_eq!(ok("1000000weeks"), Duration::from_secs(604_800_000_000));
        assert_eq!(
            ok("100000000000000000secs"),
            Duration::from_secs(100_000_000_000_000_000)
        );
    }

    #[test]
    fn formats_as_executors_expect_and_reads_back() {
        assert_eq!(format(Duration::ZERO), "0secs");
        assert_eq!(format(Duration::from_secs(5)), "5secs");
        assert_eq!(format(Duration::from_secs(900)), "900secs");
        assert_eq!(format(Duration::from_millis(1_500)), "1500ms");
        assert_eq!(format(Duration::from_millis(250)), "250ms");
        assert_eq!(format(Duration::from_micros(1_500)), "1500us");
        assert_eq!(format(Duration::from_nanos(7)), "7ns");
        for duration in [
            Duration::ZERO,
            Duration::from_secs(15 * 60),
            Duration::from_millis(2_001),
            Duration::from_micros(999),
            Duration::from_nanos(1_000_000_001),
            Duration::from_secs(10 * 365 * 86_400),
        ] {
            assert_eq!(parse(&format(duration)), Ok(duration), "{duration:?}");
        }
    }
}
