//! Stored documents of the accounts subgraph.

use serde::{Deserialize, Serialize};

pub const USERS: &str = "users";
pub const REFRESH_TOKENS: &str = "refresh_tokens";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UserDoc {
    pub id: String,
    /// Normalized: trimmed and lowercased.
    pub email: String,
    pub name: String,
    /// Lowercased name, for case-insensitive prefix search.
    pub name_lower: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
    /// Argon2id PHC string.
    pub password_hash: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl kit::outbox::HasId for UserDoc {
    fn id(&self) -> &str {
        &self.id
    }
}

/// A refresh token, stored only as its SHA-256 (the id). Tokens of one sign-in form a family;
/// each refresh rotates to a new token of the same family.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RefreshTokenDoc {
    pub id: String,
    pub user_id: String,
    pub family_id: String,
    pub expires_at: i64,
    /// Already exchanged for a newer token: presenting it again is reuse.
    pub used: bool,
    pub revoked: bool,
    pub created_at: i64,
    /// What the session's access tokens may do; absent on sessions stored before scopes
    /// existed, which get every scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
}
