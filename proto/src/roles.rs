//! Role names as Mesos accepts them, and the `--weights` flag's syntax.
//!
//! A role is a path of names separated by `/` (`eng/ml` is a child of
//! `eng`), and each name must be usable as a directory name: agents and
//! frameworks lay out per-role state on disk, and every Mesos component
//! refuses the same names, so a role that one of them accepts is one the
//! others accept too. `*` alone is the default role; it has no children.

use std::collections::BTreeMap;

/// Characters no role name may hold: whitespace and DEL.
fn forbidden(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{7f}')
}

/// Checks a role name; the error says which rule it breaks.
pub fn validate(role: &str) -> Result<(), String> {
    if role.is_empty() {
        return Err("a role name may not be empty".into());
    }
    if role == "*" {
        return Ok(());
    }
    if role.starts_with('/') || role.ends_with('/') {
        return Err(format!(
            "role '{role}' is invalid: it may not start or end with '/'"
        ));
    }
    for part in role.split('/') {
        let broken = match part {
            "" => Some("it has an empty name between two '/'"),
            "." | ".." => Some("'.' and '..' are not names"),
            "*" => Some("'*' is a role of its own, not a part of one"),
            _ if part.starts_with('-') => Some("a name in it starts with '-'"),
            _ if part.chars().any(forbidden) => {
                Some("it contains whitespace or a backspace character")
            }
            _ => None,
        };
        if let Some(rule) = broken {
            return Err(format!("role '{role}' is invalid: {rule}"));
        }
    }
    Ok(())
}

/// The roles above `role`, nearest first: `a/b/c` gives `a/b`, then `a`.
pub fn ancestors(role: &str) -> impl Iterator<Item = &str> {
    let mut rest = role;
    std::iter::from_fn(move || {
        let cut = rest.rfind('/')?;
        rest = &rest[..cut];
        Some(rest)
    })
}

/// Whether `role` is `parent` or one of its descendants.
pub fn is_within(role: &str, parent: &str) -> bool {
    role == parent
        || role
            .strip_prefix(parent)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Parses `--weights`: `role=weight` pairs separated by commas
/// (`"eng=2,ops=0.5"`). Every role must be valid, appear once, and weigh
/// a finite number above zero.
pub fn parse_weights(text: &str) -> Result<BTreeMap<String, f64>, String> {
    let mut weights = BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (role, weight) = pair
            .split_once('=')
            .ok_or_else(|| format!("'{pair}' is not of the form ROLE=WEIGHT"))?;
        let role = role.trim();
        validate(role)?;
        let weight: f64 = weight
            .trim()
            .parse()
            .map_err(|_| format!("the weight of role '{role}' is not a number: '{weight}'"))?;
        check_weight(role, weight)?;
        if weights.insert(role.to_string(), weight).is_some() {
            return Err(format!("role '{role}' is given a weight twice"));
        }
    }
    Ok(weights)
}

/// A weight must be a finite number above zero.
pub fn check_weight(role: &str, weight: f64) -> Result<(), String> {
    if weight.is_finite() && weight > 0.0 {
        Ok(())
    } else {
        Err(format!(
            "the weight of role '{role}' must be a number above zero, not {weight}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_usable_as_directories_are_valid() {
        for role in ["*", "eng", "eng/ml", "a.b", "x-y", "ml_2", "a/b/c", "a*"] {
            assert_eq!(validate(role), Ok(()), "{role}");
        }
    }

    #[test]
    fn each_broken_rule_is_named() {
        let cases = [
            ("", "empty"),
            (".", "'.' and '..'"),
            ("..", "'.' and '..'"),
            ("eng/..", "'.' and '..'"),
            ("-eng", "starts with '-'"),
            ("eng/-ml", "starts with '-'"),
            ("/eng", "start or end with '/'"),
            ("eng/", "start or end with '/'"),
            ("eng//ml", "empty name"),
            ("eng/*", "'*' is a role of its own"),
            ("my role", "whitespace"),
            ("tab\there", "whitespace"),
            ("del\u{7f}", "backspace"),
        ];
        for (role, rule) in cases {
            let error = validate(role).expect_err(role);
            assert!(error.contains(rule), "{role:?}: {error}");
        }
    }

    #[test]
    fn ancestors_go_up_to_the_top() {
        assert_eq!(ancestors("a/b/c").collect::<Vec<_>>(), ["a/b", "a"]);
        assert_eq!(ancestors("a").count(), 0);
        assert!(is_within("a/b", "a"));
        assert!(is_within("a", "a"));
        assert!(!is_within("ab", "a"));
        assert!(!is_within("a", "a/b"));
    }

    #[test]
    fn weights_parse_and_refuse_what_mesos_refuses() {
        let weights = parse_weights("eng=2, ops=0.5,").expect("valid");
        assert_eq!(weights.get("eng"), Some(&2.0));
        assert_eq!(weights.get("ops"), Some(&0.5));
        assert_eq!(parse_weights(""), Ok(BTreeMap::new()));
        for (text, complaint) in [
            ("eng", "ROLE=WEIGHT"),
            ("eng=x", "not a number"),
            ("eng=0", "above zero"),
            ("eng=-1", "above zero"),
            ("eng=inf", "above zero"),
            ("eng=1,eng=2", "twice"),
            ("-eng=1", "starts with '-'"),
        ] {
            let error = parse_weights(text).expect_err(text);
            assert!(error.contains(complaint), "{text}: {error}");
        }
    }
}
