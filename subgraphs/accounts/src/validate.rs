//! Input rules of the accounts API; violations are `BAD_USER_INPUT` naming the field.

use kit::{ApiError, ApiResult};

pub const MIN_PASSWORD_CHARS: usize = 10;
/// Bounds the cost of hashing attacker-chosen input.
pub const MAX_PASSWORD_BYTES: usize = 1024;
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_URL_CHARS: usize = 2048;

/// The scopes an access token can carry (its `scope` claim, space-separated). The subgraphs
/// declare what needs them with `@requiresScopes`; the router enforces them.
pub const SCOPES: [&str; 2] = ["boards:write", "chat:write"];

/// The scopes a sign-in asks for: known ones, each once, in [`SCOPES`] order; every scope
/// when none are named.
pub fn scopes(requested: Option<&[String]>) -> ApiResult<Vec<String>> {
    let Some(requested) = requested else {
        return Ok(SCOPES.iter().map(|s| s.to_string()).collect());
    };
    if let Some(unknown) = requested.iter().find(|s| !SCOPES.contains(&s.as_str())) {
        let unknown: String = unknown.chars().take(64).collect();
        return Err(ApiError::bad_input(
            "scopes",
            format!("unknown scope `{unknown}` (known: {})", SCOPES.join(", ")),
        ));
    }
    Ok(SCOPES
        .iter()
        .filter(|s| requested.iter().any(|r| r == *s))
        .map(|s| s.to_string())
        .collect())
}

/// Trims and lowercases an email and checks its shape.
pub fn email(raw: &str) -> ApiResult<String> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && local.len() <= 64
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains("..")
            }
            None => false,
        };
    if valid {
        Ok(email)
    } else {
        Err(ApiError::bad_input("email", "not a valid email address"))
    }
}

pub fn password(raw: &str) -> ApiResult<()> {
    if raw.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::bad_input(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if raw.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::bad_input("password", "is too long"));
    }
    Ok(())
}

pub fn name(raw: &str) -> ApiResult<String> {
    let name = raw.trim();
    let count = name.chars().count();
    if count == 0 || count > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(ApiError::bad_input(
            "name",
            format!("must be 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(name.to_owned())
}

/// An avatar URL: empty clears it, otherwise an absolute http(s) URL.
pub fn avatar_url(raw: &str) -> ApiResult<Option<String>> {
    let url = raw.trim();
    if url.is_empty() {
        return Ok(None);
    }
    let lower = url.to_ascii_lowercase();
    let ok = (lower.starts_with("https://") || lower.starts_with("http://"))
        && url.len() <= MAX_URL_CHARS
        && url
            .split_once("://")
            .is_some_and(|(_, rest)| !rest.is_empty())
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(Some(url.to_owned()))
    } else {
        Err(ApiError::bad_input("avatarUrl", "must be an http(s) URL"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(
            email("  Ada@Example.COM ").ok().as_deref(),
            Some("ada@example.com")
        );
        for bad in [
            "", "ada", "ada@", "@x.io", "a@b", "a b@x.io", "a@@x.io", "a@x..io", "a@.x.io",
        ] {
            assert!(email(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn passwords_need_ten_characters() {
        assert!(password("123456789").is_err());
        assert!(password("1234567890").is_ok());
        assert!(password(&"x".repeat(MAX_PASSWORD_BYTES + 1)).is_err());
    }

    #[test]
    fn names_and_urls() {
        assert_eq!(name("  Ada  ").ok().as_deref(), Some("Ada"));
        assert!(name("   ").is_err());
        assert!(name(&"x".repeat(101)).is_err());
        assert_eq!(avatar_url("").ok(), Some(None));
        assert!(avatar_url("javascript:alert(1)").is_err());
        assert!(avatar_url("https://cdn.example.com/a.png").is_ok());
    }
}
