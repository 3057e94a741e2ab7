//! The accounts GraphQL API (`contract/accounts.graphql`).

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, EmptySubscription, InputObject, Object, Schema, SimpleObject, ID};
use chrono::{DateTime, Utc};
use kit::federation::{authenticated, list_size};
use kit::{ApiError, Caller};

use crate::model::UserDoc;
use crate::service::{AccountsService, Session};

pub type AccountsSchema = Schema<Query, Mutation, EmptySubscription>;

pub fn build_schema(service: Arc<AccountsService>) -> AccountsSchema {
    Schema::build(Query, Mutation, EmptySubscription)
        .enable_federation()
        .extension(kit::server::ErrorCodes)
        // `_service { sdl }` links `@listSize` as `schema/*.graphql` does.
        .extension(kit::federation::ServiceSdl)
        .data(DataLoader::new(UserLoader(service.clone()), tokio::spawn))
        .data(service)
        .finish()
}

fn service<'a>(ctx: &Context<'a>) -> &'a Arc<AccountsService> {
    ctx.data_unchecked::<Arc<AccountsService>>()
}

/// Batches user lookups: N ids in one request become one store query.
pub struct UserLoader(Arc<AccountsService>);

impl Loader<String> for UserLoader {
    type Value = UserDoc;
    type Error = Arc<ApiError>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, UserDoc>, Self::Error> {
        let users = self.0.users_by_ids(keys).await.map_err(Arc::new)?;
        Ok(users.into_iter().map(|u| (u.id.clone(), u)).collect())
    }
}

async fn load_user(ctx: &Context<'_>, id: &str) -> async_graphql::Result<Option<User>> {
    let loader = ctx.data_unchecked::<DataLoader<UserLoader>>();
    let user = loader
        .load_one(id.to_owned())
        .await
        .map_err(|e| ApiError::clone(&e))?;
    Ok(user.map(User::new))
}

fn millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// A user account. Entity owned by this subgraph. The flag says the caller is this user
/// although its request carried no token for them: the user a sign-in returns.
pub struct User(pub UserDoc, bool);

impl User {
    pub fn new(doc: UserDoc) -> User {
        User(doc, false)
    }

    /// The user who just signed in (up), as they see themselves.
    fn signed_in(doc: UserDoc) -> User {
        User(doc, true)
    }
}

// Public profile data: the router may cache it for everyone for a minute (a rename evicts
// it); the caller-dependent `email` makes an answer private.
#[Object(cache_control(max_age = 60))]
impl User {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Visible to the user themself only; null for everyone else.
    // "Themself" includes the user a sign-up, sign-in or refresh returns (`self.1`): that
    // request carried no token for them yet.
    #[graphql(cache_control(private))]
    async fn email(&self, ctx: &Context<'_>) -> Option<&str> {
        let caller = Caller::of(ctx);
        let own = self.1 || caller.user_id() == Some(self.0.id.as_str());
        own.then_some(self.0.email.as_str())
    }

    async fn avatar_url(&self) -> Option<&str> {
        self.0.avatar_url.as_deref()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        millis(self.0.created_at)
    }
}

#[derive(SimpleObject)]
pub struct AuthPayload {
    /// Short-lived access token (JWT), sent as `Authorization: Bearer <token>`.
    access_token: String,
    /// Long-lived, single-use, revocable; exchanged at `refreshSession`.
    refresh_token: String,
    expires_at: DateTime<Utc>,
    user: User,
}

impl From<Session> for AuthPayload {
    fn from(s: Session) -> Self {
        Self {
            access_token: s.access_token,
            refresh_token: s.refresh_token,
            expires_at: millis(s.expires_at),
            user: User::signed_in(s.user),
        }
    }
}

#[derive(InputObject)]
pub struct SignUpInput {
    email: String,
    password: String,
    name: String,
}

#[derive(InputObject)]
pub struct UpdateProfileInput {
    name: Option<String>,
    avatar_url: Option<String>,
}

pub struct Query;

#[Object]
impl Query {
    /// The signed-in user; null when the request carries no valid token.
    #[graphql(cache_control(private))]
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        match Caller::of(ctx) {
            Caller::User(claims) => load_user(ctx, &claims.sub).await,
            Caller::Anonymous => Ok(None),
            // Null as promised, with the reason the token was refused.
            Caller::Rejected(e) => Err(ApiError::from(e).into()),
        }
    }

    async fn user(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<User>> {
        load_user(ctx, &id).await
    }

    /// Case-insensitive search by name or email prefix, for picking assignees and chat members.
    #[graphql(directive = list_size::apply(None, Some(vec!["first".into()]), None, Some(false)), directive = authenticated::apply())]
    async fn search_users(
        &self,
        ctx: &Context<'_>,
        query: String,
        #[graphql(default = 10)] first: Option<i32>,
    ) -> async_graphql::Result<Vec<User>> {
        Caller::of(ctx).require_user()?;
        let users = service(ctx).search(&query, first.unwrap_or(10)).await?;
        Ok(users.into_iter().map(User::new).collect())
    }

    #[graphql(entity)]
    async fn find_user_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<User>> {
        load_user(ctx, &id).await
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    async fn sign_up(
        &self,
        ctx: &Context<'_>,
        input: SignUpInput,
    ) -> async_graphql::Result<AuthPayload> {
        let session = service(ctx)
            .sign_up(&input.email, &input.password, &input.name)
            .await?;
        Ok(session.into())
    }

    /// Signs in. `scopes` narrows what the session's access tokens may do (default: every
    /// scope: `boards:write`, `chat:write`); refreshed tokens keep them.
    async fn sign_in(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
        scopes: Option<Vec<String>>,
    ) -> async_graphql::Result<AuthPayload> {
        let session = service(ctx)
            .sign_in(&email, &password, scopes.as_deref())
            .await?;
        Ok(session.into())
    }

    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> async_graphql::Result<AuthPayload> {
        Ok(service(ctx).refresh(&refresh_token).await?.into())
    }

    /// Revokes the refresh token (and its session); true when a token was revoked.
    async fn sign_out(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> async_graphql::Result<bool> {
        Ok(service(ctx).sign_out(&refresh_token).await?)
    }

    #[graphql(directive = authenticated::apply())]
    async fn update_profile(
        &self,
        ctx: &Context<'_>,
        input: UpdateProfileInput,
    ) -> async_graphql::Result<User> {
        let caller = Caller::of(ctx);
        let user_id = caller.require_user()?;
        let user = service(ctx)
            .update_profile(user_id, input.name.as_deref(), input.avatar_url.as_deref())
            .await?;
        Ok(User::new(user))
    }
}
