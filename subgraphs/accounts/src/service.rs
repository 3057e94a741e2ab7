//! Account operations: sign-up, sign-in, refresh-token rotation, sign-out, profiles, search.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use auth::TokenSigner;
use base64::Engine;
use kit::events::{DomainEvent, SharedEventStream};
use kit::outbox::Outbox;
use kit::store::{
    new_id, now_millis, Collection, Filter, FindOptions, IndexSpec, Order, Store, Update,
};
use kit::{ApiError, ApiResult};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::model::{RefreshTokenDoc, UserDoc, REFRESH_TOKENS, USERS};
use crate::validate;

/// What a successful sign-in, sign-up or refresh returns.
#[derive(Clone, Debug)]
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_at: i64,
    pub user: UserDoc,
}

/// The durable stream accounts publishes `UserRegistered` and `UserRenamed` on, so other
/// subgraphs can keep the display names they need (mentions, notification texts).
pub const EVENTS_STREAM: &str = "accounts";

pub struct AccountsService {
    /// `UserRegistered` and `UserRenamed` go through it, so a failed append is re-sent.
    outbox: Arc<Outbox>,
    users: Collection<UserDoc>,
    tokens: Collection<RefreshTokenDoc>,
    signer: Arc<TokenSigner>,
    access_ttl: chrono::Duration,
    refresh_ttl: chrono::Duration,
    /// Verified against when the email is unknown, so sign-in takes as long either way.
    dummy_hash: String,
}

impl AccountsService {
    pub async fn new(
        store: &Store,
        events: SharedEventStream,
        signer: Arc<TokenSigner>,
        access_ttl: chrono::Duration,
        refresh_ttl: chrono::Duration,
    ) -> ApiResult<Self> {
        store
            .ensure_indexes(&[
                IndexSpec::new(USERS, &["email"]).unique(),
                IndexSpec::new(USERS, &["nameLower"]),
                IndexSpec::new(REFRESH_TOKENS, &["familyId"]),
                IndexSpec::new(REFRESH_TOKENS, &["userId"]),
            ])
            .await?;
        let outbox = Outbox::new(store, events, EVENTS_STREAM, &[USERS]).await?;
        Ok(Self {
            outbox: Arc::new(outbox),
            users: store.collection(USERS),
            tokens: store.collection(REFRESH_TOKENS),
            signer,
            access_ttl,
            refresh_ttl,
            dummy_hash: hash_password("not a real password".into()).await?,
        })
    }

    pub fn signer(&self) -> &TokenSigner {
        &self.signer
    }

    pub async fn sign_up(&self, email: &str, password: &str, name: &str) -> ApiResult<Session> {
        let email = validate::email(email)?;
        validate::password(password)?;
        let name = validate::name(name)?;
        let now = now_millis();
        let user = UserDoc {
            id: new_id(),
            email,
            name_lower: name.to_lowercase(),
            name,
            avatar_url: None,
            password_hash: hash_password(password.to_owned()).await?,
            created_at: now,
            updated_at: now,
        };
        let event = profile_event("UserRegistered", &user.id, &user.name);
        match self.outbox.insert(&self.users, &user, event).await {
            Ok(()) => {}
            Err(e) if e.is_duplicate() => {
                return Err(ApiError::bad_input(
                    "email",
                    "this email is already registered",
                ))
            }
            Err(e) => return Err(e.into()),
        }
        self.issue(user, new_id(), validate::scopes(None)?).await
    }

    /// Signs in with every scope, or only `scopes` when given (a narrower token, say one
    /// that cannot write).
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        scopes: Option<&[String]>,
    ) -> ApiResult<Session> {
        let scopes = validate::scopes(scopes)?;
        let refused = || ApiError::Unauthenticated("invalid email or password".into());
        // Hashing attacker-sized input would cost far more than any real password.
        if password.len() > validate::MAX_PASSWORD_BYTES {
            return Err(refused());
        }
        let Ok(email) = validate::email(email) else {
            return Err(refused());
        };
        let user = self.users.find_one(&Filter::eq("email", email)).await?;
        let hash = user
            .as_ref()
            .map_or(&self.dummy_hash, |u| &u.password_hash)
            .clone();
        let matches = verify_password(password.to_owned(), hash).await?;
        match user {
            Some(user) if matches => self.issue(user, new_id(), scopes).await,
            _ => Err(refused()),
        }
    }

    /// Exchanges a refresh token for a new session. Each token works once: presenting a token
    /// that was already exchanged means it was stolen (or replayed), so its whole family dies.
    pub async fn refresh(&self, refresh_token: &str) -> ApiResult<Session> {
        let id = token_hash(refresh_token);
        let claimed = self
            .tokens
            .update_one(
                &Filter::eq("id", id.clone())
                    .and(Filter::eq("used", false))
                    .and(Filter::eq("revoked", false)),
                &Update::new().set("used", true),
            )
            .await?;
        let Some(token) = claimed else {
            if let Some(known) = self.tokens.get(&id).await? {
                if known.used {
                    self.revoke_family(&known.family_id).await?;
                    tracing::warn!(user = %known.user_id, "refresh token reuse: family revoked");
                    return Err(ApiError::Unauthenticated(
                        "refresh token was already used; the session is revoked, sign in again"
                            .into(),
                    ));
                }
                return Err(ApiError::Unauthenticated("refresh token is revoked".into()));
            }
            return Err(ApiError::Unauthenticated("invalid refresh token".into()));
        };
        if token.expires_at <= now_millis() {
            return Err(ApiError::Unauthenticated(
                "refresh token has expired".into(),
            ));
        }
        let user = self
            .users
            .get(&token.user_id)
            .await?
            .ok_or_else(|| ApiError::Unauthenticated("the account no longer exists".into()))?;
        // A scope the platform no longer knows is dropped, not an error.
        let scopes = match token.scopes {
            Some(held) => held
                .into_iter()
                .filter(|s| validate::SCOPES.contains(&s.as_str()))
                .collect(),
            None => validate::scopes(None)?,
        };
        self.issue(user, token.family_id, scopes).await
    }

    /// Revokes the session the refresh token belongs to; true when it was still active.
    pub async fn sign_out(&self, refresh_token: &str) -> ApiResult<bool> {
        let id = token_hash(refresh_token);
        let revoked = self
            .tokens
            .update_one(
                &Filter::eq("id", id).and(Filter::eq("revoked", false)),
                &Update::new().set("revoked", true),
            )
            .await?;
        // The contract: true when a token was revoked. A token already exchanged still
        // names its session, whose newer tokens die with it.
        match revoked {
            Some(token) => {
                self.revoke_family(&token.family_id).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    pub async fn update_profile(
        &self,
        user_id: &str,
        name: Option<&str>,
        avatar_url: Option<&str>,
    ) -> ApiResult<UserDoc> {
        let mut update = Update::new().set("updatedAt", now_millis());
        let name = name.map(validate::name).transpose()?;
        if let Some(name) = &name {
            update = update
                .set("nameLower", name.to_lowercase())
                .set("name", name.as_str());
        }
        if let Some(url) = avatar_url {
            update = update.set_opt("avatarUrl", validate::avatar_url(url)?);
        }
        let filter = Filter::eq("id", user_id);
        let written = match &name {
            Some(name) => {
                let event = profile_event("UserRenamed", user_id, name);
                self.outbox
                    .update(&self.users, &filter, update, event)
                    .await
            }
            None => self.users.update_one(&filter, &update).await,
        };
        written?.ok_or_else(|| ApiError::not_found("user"))
    }

    /// The outbox of the `accounts` stream: events ride in the user documents their writes
    /// change (its sweeper runs beside the server).
    pub fn outbox(&self) -> &Arc<Outbox> {
        &self.outbox
    }

    /// Users whose name or email starts with `query` (case-insensitive), by name.
    pub async fn search(&self, query: &str, first: i32) -> ApiResult<Vec<UserDoc>> {
        let prefix = query.trim().to_lowercase();
        if prefix.is_empty() {
            return Ok(Vec::new());
        }
        if prefix.chars().count() > 100 {
            return Err(ApiError::bad_input(
                "query",
                "must be at most 100 characters",
            ));
        }
        let first = first.clamp(0, 50) as u64;
        if first == 0 {
            return Ok(Vec::new());
        }
        let upper = format!("{prefix}\u{10FFFF}");
        let starts_with =
            |field: &str| Filter::gte(field, prefix.clone()).and(Filter::lt(field, upper.clone()));
        let filter = Filter::Or(vec![starts_with("nameLower"), starts_with("email")]);
        let options = FindOptions::default()
            .sort("nameLower", Order::Asc)
            .sort("id", Order::Asc)
            .limit(first);
        Ok(self.users.find(&filter, &options).await?)
    }

    pub async fn users_by_ids(&self, ids: &[String]) -> ApiResult<Vec<UserDoc>> {
        Ok(self.users.get_many(ids).await?)
    }

    async fn issue(
        &self,
        user: UserDoc,
        family_id: String,
        scopes: Vec<String>,
    ) -> ApiResult<Session> {
        let mut claims = serde_json::Map::new();
        claims.insert("scope".into(), scopes.join(" ").into());
        let (access_token, claims) = self
            .signer
            .sign_with(&user.id, self.access_ttl, claims)
            .map_err(ApiError::internal)?;
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let refresh_token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let now = now_millis();
        self.tokens
            .insert(&RefreshTokenDoc {
                id: token_hash(&refresh_token),
                user_id: user.id.clone(),
                family_id,
                expires_at: now + self.refresh_ttl.num_milliseconds(),
                used: false,
                revoked: false,
                created_at: now,
                scopes: Some(scopes),
            })
            .await?;
        Ok(Session {
            access_token,
            refresh_token,
            expires_at: claims.exp * 1000,
            user,
        })
    }

    async fn revoke_family(&self, family_id: &str) -> ApiResult<()> {
        self.tokens
            .update_many(
                &Filter::eq("familyId", family_id).and(Filter::eq("revoked", false)),
                &Update::new().set("revoked", true),
            )
            .await?;
        Ok(())
    }
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Argon2id is deliberately slow: run it off the async workers.
async fn hash_password(password: String) -> ApiResult<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(ApiError::internal)
    })
    .await
    .map_err(ApiError::internal)?
}

async fn verify_password(password: String, hash: String) -> ApiResult<bool> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash).map_err(ApiError::internal)?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(ApiError::internal)?
}

/// A user's public profile as other subgraphs learn it, stored with the write that set it.
fn profile_event(kind: &str, user_id: &str, name: &str) -> DomainEvent {
    let payload = serde_json::json!({ "userId": user_id, "name": name });
    DomainEvent::new(kind, user_id, payload)
}
