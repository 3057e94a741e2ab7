//! Input rules of the boards API. Everything is trimmed first; violations are `BAD_USER_INPUT`
//! naming the field (`extensions.field`). Lengths count characters, not bytes.

use kit::{ApiError, ApiResult};

pub const MAX_BOARD_NAME: usize = 100;
pub const MAX_TITLE: usize = 200;
pub const MAX_DESCRIPTION: usize = 10_000;
pub const MAX_LABELS: usize = 20;
pub const MAX_LABEL: usize = 40;
/// Ids are uuids; anything much longer is not an id and is refused before it reaches the store
/// or a cache key.
pub const MAX_ID: usize = 64;

/// A one-line name: trimmed, 1..=`max` characters, no control characters.
fn line(field: &str, raw: &str, max: usize) -> ApiResult<String> {
    let value = raw.trim();
    let count = value.chars().count();
    if count == 0 || count > max {
        return Err(ApiError::bad_input(
            field,
            format!("must be 1 to {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::bad_input(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value.to_owned())
}

pub fn board_name(raw: &str) -> ApiResult<String> {
    line("name", raw, MAX_BOARD_NAME)
}

pub fn task_title(raw: &str) -> ApiResult<String> {
    line("title", raw, MAX_TITLE)
}

/// A free-text description: trimmed, at most [`MAX_DESCRIPTION`] characters; empty means none.
pub fn description(raw: Option<&str>) -> ApiResult<Option<String>> {
    let Some(value) = raw.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.chars().count() > MAX_DESCRIPTION {
        return Err(ApiError::bad_input(
            "description",
            format!("must be at most {MAX_DESCRIPTION} characters"),
        ));
    }
    Ok(Some(value.to_owned()))
}

/// Labels: each trimmed and 1..=[`MAX_LABEL`] characters, at most [`MAX_LABELS`] of them;
/// duplicates are dropped (first occurrence kept).
pub fn labels(raw: &[String]) -> ApiResult<Vec<String>> {
    let mut labels: Vec<String> = Vec::with_capacity(MAX_LABELS);
    for label in raw {
        let label = line("labels", label, MAX_LABEL)?;
        if !labels.contains(&label) {
            labels.push(label);
        }
        // Checked as we go, so a huge list costs no more than its first few labels.
        if labels.len() > MAX_LABELS {
            return Err(ApiError::bad_input(
                "labels",
                format!("at most {MAX_LABELS} labels"),
            ));
        }
    }
    Ok(labels)
}

/// A trimmed id, or `NOT_FOUND` for `what` when it cannot be one of ours.
pub fn id(raw: &str, what: &str) -> ApiResult<String> {
    let id = raw.trim();
    if id.is_empty() || id.len() > MAX_ID {
        return Err(ApiError::not_found(what));
    }
    Ok(id.to_owned())
}

/// A user id: user ids are uuids issued by accounts, so anything else is an unknown user.
pub fn user_id(raw: &str) -> ApiResult<String> {
    let id = raw.trim();
    match uuid::Uuid::parse_str(id) {
        Ok(_) if id.len() <= MAX_ID => Ok(id.to_owned()),
        _ => Err(ApiError::not_found("user")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(error: ApiError) -> Option<String> {
        match error {
            ApiError::BadUserInput { field, .. } => field,
            _ => None,
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded_in_characters() {
        assert_eq!(board_name("  Roadmap \n").expect("valid"), "Roadmap");
        assert_eq!(
            board_name(&"é".repeat(100))
                .expect("100 chars")
                .chars()
                .count(),
            100
        );
        assert_eq!(
            field(board_name("   ").expect_err("empty")).as_deref(),
            Some("name")
        );
        assert!(board_name(&"x".repeat(101)).is_err());
        assert!(board_name("a\u{0}b").is_err());
        assert_eq!(
            field(task_title(&"t".repeat(201)).expect_err("long")).as_deref(),
            Some("title")
        );
    }

    #[test]
    fn descriptions_are_optional_and_bounded() {
        assert_eq!(description(Some("  ")).expect("blank"), None);
        assert_eq!(
            description(Some(" a\nb ")).expect("ok"),
            Some("a\nb".into())
        );
        assert!(description(Some(&"d".repeat(10_000))).is_ok());
        let error = description(Some(&"d".repeat(10_001))).expect_err("long");
        assert_eq!(field(error).as_deref(), Some("description"));
    }

    #[test]
    fn labels_are_trimmed_deduplicated_and_bounded() {
        let raw = vec![" bug ".to_owned(), "bug".to_owned(), "ui".to_owned()];
        assert_eq!(labels(&raw).expect("ok"), vec!["bug", "ui"]);
        let many: Vec<String> = (0..21).map(|i| format!("l{i}")).collect();
        assert_eq!(
            field(labels(&many).expect_err("21")).as_deref(),
            Some("labels")
        );
        assert!(labels(&many[..20]).is_ok());
        let huge: Vec<String> = (0..200_000).map(|i| i.to_string()).collect();
        assert!(
            labels(&huge).is_err(),
            "refused without comparing every pair"
        );
        assert!(labels(&["x".repeat(41)]).is_err());
        assert!(labels(&[" ".to_owned()]).is_err());
    }

    #[test]
    fn ids_that_cannot_exist_are_not_found() {
        assert!(matches!(id("", "task"), Err(ApiError::NotFound(_))));
        assert!(matches!(
            id(&"x".repeat(65), "task"),
            Err(ApiError::NotFound(_))
        ));
        assert!(matches!(user_id("bob"), Err(ApiError::NotFound(_))));
        let uuid = uuid::Uuid::now_v7().to_string();
        assert_eq!(user_id(&format!(" {uuid} ")).expect("uuid"), uuid);
    }
}
