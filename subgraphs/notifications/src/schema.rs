//! The notifications GraphQL API (`contract/notifications.graphql`).

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, Object, Schema, SimpleObject, ID};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use kit::events::SharedPubSub;
use kit::federation::{authenticated, list_size};
use kit::{ApiError, Caller};

use crate::model::{NotificationDoc, NotificationKind};
use crate::service::{channel, encode_cursor, NotificationsService, Page};

pub type NotificationsSchema = Schema<Query, Mutation, Subscription>;

pub fn build_schema(
    service: Arc<NotificationsService>,
    pubsub: SharedPubSub,
) -> NotificationsSchema {
    Schema::build(Query, Mutation, Subscription)
        .enable_federation()
        .enable_subscription_in_federation()
        .extension(kit::server::ErrorCodes)
        // `_service { sdl }` links `@listSize` as `schema/*.graphql` does.
        .extension(kit::federation::ServiceSdl)
        .data(DataLoader::new(
            NotificationLoader(service.clone()),
            tokio::spawn,
        ))
        .data(service)
        .data(pubsub)
        .finish()
}

fn service<'a>(ctx: &Context<'a>) -> &'a Arc<NotificationsService> {
    ctx.data_unchecked::<Arc<NotificationsService>>()
}

/// Batches notification lookups: N ids become one store query.
pub struct NotificationLoader(Arc<NotificationsService>);

impl Loader<String> for NotificationLoader {
    type Value = NotificationDoc;
    type Error = Arc<ApiError>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, NotificationDoc>, Self::Error> {
        let docs = self.0.by_ids(keys).await.map_err(Arc::new)?;
        Ok(docs.into_iter().map(|d| (d.id.clone(), d)).collect())
    }
}

/// A notification for one user.
pub struct Notification(pub NotificationDoc);

// The recipient's alone; a new one evicts its recipient's cached answers (see `service`).
#[Object(cache_control(max_age = 30, private))]
impl Notification {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn kind(&self) -> NotificationKind {
        self.0.kind
    }
    async fn recipient(&self) -> User {
        User {
            id: ID(self.0.recipient_id.clone()),
        }
    }
    /// Who caused it.
    async fn actor(&self) -> User {
        User {
            id: ID(self.0.actor_id.clone()),
        }
    }
    /// Human-readable one-liner, e.g. "Ada assigned you “Fix login”".
    async fn text(&self) -> &str {
        &self.0.text
    }
    async fn read(&self) -> bool {
        self.0.read
    }
    async fn task(&self) -> Option<Task> {
        self.0.task_id.clone().map(|id| Task { id: ID(id) })
    }
    async fn board(&self) -> Option<Board> {
        self.0.board_id.clone().map(|id| Board { id: ID(id) })
    }
    async fn message(&self) -> Option<Message> {
        self.0.message_id.clone().map(|id| Message { id: ID(id) })
    }
    async fn created_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.0.created_at).unwrap_or_default()
    }
}

#[derive(SimpleObject)]
#[graphql(unresolvable = "id")]
pub struct Task {
    id: ID,
}

#[derive(SimpleObject)]
#[graphql(unresolvable = "id")]
pub struct Board {
    id: ID,
}

#[derive(SimpleObject)]
#[graphql(unresolvable = "id")]
pub struct Message {
    id: ID,
}

#[derive(SimpleObject)]
#[graphql(shareable)]
pub struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

#[derive(SimpleObject)]
pub struct NotificationEdge {
    cursor: String,
    node: Notification,
}

#[derive(SimpleObject)]
pub struct NotificationConnection {
    edges: Vec<NotificationEdge>,
    page_info: PageInfo,
}

impl From<Page> for NotificationConnection {
    fn from(page: Page) -> Self {
        let end_cursor = page.items.last().map(|n| encode_cursor(&n.id));
        Self {
            edges: page
                .items
                .into_iter()
                .map(|n| NotificationEdge {
                    cursor: encode_cursor(&n.id),
                    node: Notification(n),
                })
                .collect(),
            page_info: PageInfo {
                has_next_page: page.has_next_page,
                end_cursor,
            },
        }
    }
}

impl NotificationConnection {
    fn empty() -> Self {
        Self {
            edges: Vec::new(),
            page_info: PageInfo {
                has_next_page: false,
                end_cursor: None,
            },
        }
    }
}

/// Entity owned by accounts; this subgraph contributes the caller's inbox.
pub struct User {
    id: ID,
}

#[Object]
impl User {
    async fn id(&self) -> &ID {
        &self.id
    }

    /// The signed-in user's own only; other users' are empty.
    #[graphql(directive = list_size::apply(None, Some(vec!["first".into()]), Some(vec!["edges".into()]), Some(false)))]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(false)")] unread_only: Option<bool>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<NotificationConnection> {
        if Caller::of(ctx).user_id() != Some(self.id.as_str()) {
            return Ok(NotificationConnection::empty());
        }
        let page = service(ctx)
            .page(
                &self.id,
                unread_only.unwrap_or(false),
                first,
                after.as_deref(),
            )
            .await?;
        Ok(page.into())
    }

    /// The signed-in user's own only; zero for others.
    #[graphql(cache_control(max_age = 30, private))]
    async fn unread_notification_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        if Caller::of(ctx).user_id() != Some(self.id.as_str()) {
            return Ok(0);
        }
        let count = service(ctx).unread_count(&self.id).await?;
        Ok(i32::try_from(count).unwrap_or(i32::MAX))
    }
}

pub struct Query;

#[Object]
impl Query {
    /// The signed-in user's notifications, newest first.
    #[graphql(directive = list_size::apply(None, Some(vec!["first".into()]), Some(vec!["edges".into()]), Some(false)), directive = authenticated::apply())]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(false)")] unread_only: Option<bool>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<NotificationConnection> {
        let caller = Caller::of(ctx);
        let user = caller.require_user()?;
        let page = service(ctx)
            .page(user, unread_only.unwrap_or(false), first, after.as_deref())
            .await?;
        Ok(page.into())
    }

    #[graphql(entity)]
    async fn find_user_by_id(&self, id: ID) -> User {
        User { id }
    }

    /// Only the recipient resolves their notification; anyone else gets null.
    #[graphql(entity)]
    async fn find_notification_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<Notification>> {
        let caller = Caller::of(ctx);
        let loader = ctx.data_unchecked::<DataLoader<NotificationLoader>>();
        let doc = loader
            .load_one(id.to_string())
            .await
            .map_err(|e| ApiError::clone(&e))?;
        Ok(doc
            .filter(|d| caller.user_id() == Some(d.recipient_id.as_str()))
            .map(Notification))
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    #[graphql(directive = authenticated::apply())]
    async fn mark_notification_read(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Notification> {
        let caller = Caller::of(ctx);
        let user = caller.require_user()?;
        Ok(Notification(service(ctx).mark_read(user, &id).await?))
    }

    /// Returns how many were marked.
    #[graphql(directive = authenticated::apply())]
    async fn mark_all_notifications_read(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let caller = Caller::of(ctx);
        let user = caller.require_user()?;
        let count = service(ctx).mark_all_read(user).await?;
        Ok(i32::try_from(count).unwrap_or(i32::MAX))
    }
}

pub struct Subscription;

#[async_graphql::Subscription]
impl Subscription {
    /// The signed-in user's new notifications, as they are created.
    #[graphql(directive = authenticated::apply())]
    async fn notification_added(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = Notification>> {
        let caller = Caller::of(ctx);
        let user = caller.require_user()?.to_owned();
        let pubsub = ctx.data_unchecked::<SharedPubSub>();
        let stream = pubsub
            .subscribe(&channel(&user))
            .await
            .map_err(|e| ApiError::internal(format!("subscribing: {e}")))?;
        Ok(stream.filter_map(move |payload| {
            let user = user.clone();
            async move {
                match serde_json::from_str::<NotificationDoc>(&payload) {
                    // The channel is per recipient; the check guards against a mis-published doc.
                    Ok(doc) if doc.recipient_id == user => Some(Notification(doc)),
                    Ok(_) => None,
                    Err(e) => {
                        tracing::warn!(error = %e, "undecodable notification on the live channel");
                        None
                    }
                }
            }
        }))
    }
}
