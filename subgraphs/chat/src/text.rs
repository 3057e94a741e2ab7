//! Input rules: message bodies, room and display names, mentions, history cursors.

use base64::Engine;
use kit::{ApiError, ApiResult};

/// Longest message body, in characters, after trimming.
pub const MAX_BODY_CHARS: usize = 4000;
/// Longest room or display name, in characters, after trimming.
pub const MAX_NAME_CHARS: usize = 100;

/// A trimmed body of 1..=4000 characters.
pub fn body(raw: &str) -> ApiResult<String> {
    let trimmed = raw.trim();
    let chars = trimmed.chars().count();
    if chars == 0 {
        return Err(ApiError::bad_input("body", "must not be empty"));
    }
    if chars > MAX_BODY_CHARS {
        return Err(ApiError::bad_input(
            "body",
            format!("must be at most {MAX_BODY_CHARS} characters (got {chars})"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// A trimmed name of 1..=100 characters.
pub fn name(field: &str, raw: &str) -> ApiResult<String> {
    let trimmed = raw.trim();
    let chars = trimmed.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Err(ApiError::bad_input(
            field,
            format!("must be 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// The form names and `@handles` are compared in: lowercase letters and digits only, so
/// `@AdaLovelace`, `@ada_lovelace` and `@ada.lovelace` all name "Ada Lovelace".
pub fn squash(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn is_handle_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// The lowercased handles written as `@handle` in `body`, in order of first appearance.
///
/// An `@` counts only at the start or after a character that cannot be part of a handle, so
/// e-mail addresses (`ada@example.com`) are not mentions. Trailing `.`/`-` are punctuation.
pub fn mention_handles(body: &str) -> Vec<String> {
    let mut handles: Vec<String> = Vec::new();
    let mut previous: Option<char> = None;
    for (i, c) in body.char_indices() {
        let starts = c == '@' && previous.is_none_or(|p| !is_handle_char(p) && p != '@');
        previous = Some(c);
        if !starts {
            continue;
        }
        let rest = &body[i + 1..];
        let end = rest
            .find(|c: char| !is_handle_char(c))
            .unwrap_or(rest.len());
        let handle = rest[..end].trim_end_matches(['.', '-']).to_lowercase();
        if !handle.is_empty() && !handles.contains(&handle) {
            handles.push(handle);
        }
    }
    handles
}

/// An opaque, stable history cursor for a message's sequence number.
pub fn cursor(seq: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("seq:{seq}"))
}

/// The sequence number a cursor stands for.
pub fn parse_cursor(cursor: &str) -> ApiResult<i64> {
    let invalid = || ApiError::bad_input("before", "is not a valid cursor");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    text.strip_prefix("seq:")
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_trimmed_and_bounded() {
        assert_eq!(body("  hi \n").expect("ok"), "hi");
        assert!(body("   \n\t").is_err());
        assert!(body(&"x".repeat(MAX_BODY_CHARS)).is_ok());
        assert!(body(&"x".repeat(MAX_BODY_CHARS + 1)).is_err());
        // Characters, not bytes.
        assert!(body(&"é".repeat(MAX_BODY_CHARS)).is_ok());
        let err = body("").expect_err("empty");
        assert_eq!(err.code(), "BAD_USER_INPUT");
    }

    #[test]
    fn mentions_are_parsed_case_insensitively_without_emails() {
        assert_eq!(
            mention_handles("hi @Ada, and @bob.smith. cc @ADA @@x ada@example.com"),
            ["ada", "bob.smith"]
        );
        assert_eq!(mention_handles("@Zoë-"), ["zoë"]);
        assert!(mention_handles("@ alone, trailing @").is_empty());
        assert_eq!(mention_handles("(@grace)"), ["grace"]);
    }

    #[test]
    fn squashing_drops_case_spaces_and_punctuation() {
        assert_eq!(squash(" Ada  Lovelace "), "adalovelace");
        assert_eq!(squash("ada_love-lace."), "adalovelace");
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        assert_eq!(parse_cursor(&cursor(42)).expect("ok"), 42);
        assert!(parse_cursor("garbage!").is_err());
        assert!(parse_cursor(&cursor(0)).is_err());
    }
}
