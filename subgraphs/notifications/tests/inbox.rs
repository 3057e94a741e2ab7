//! From domain events to a stored and streamed inbox, through real HTTP and WebSocket.

use kit::lifecycle::Subgraph as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use auth::{TokenSigner, TokenVerifier};
use kit::config::ServiceConfig;
use kit::events::{DomainEvent, EventHandler};
use kit::test_client::{GqlClient, Subscription};
use notifications::Notifications;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

const ADA: &str = "user-ada";
const BOB: &str = "user-bob";
const CAROL: &str = "user-carol";

struct Replica {
    base: String,
    notifications: Arc<Notifications>,
    shutdown: CancellationToken,
}

impl Replica {
    async fn start(data_dir: &Path, redis: Option<(&str, &str)>, signer: &TokenSigner) -> Self {
        Self::start_with(data_dir, redis, signer, Duration::from_secs(30), true).await
    }

    async fn start_with(
        data_dir: &Path,
        redis: Option<(&str, &str)>,
        signer: &TokenSigner,
        reclaim_idle: Duration,
        consume: bool,
    ) -> Self {
        let config = ServiceConfig {
            data_dir: data_dir.to_owned(),
            redis_url: redis.map(|(url, _)| url.to_owned()),
            redis_prefix: redis.map_or_else(|| "platform".to_owned(), |(_, p)| p.to_owned()),
            ..ServiceConfig::default()
        };
        let verifier = TokenVerifier::from_jwks(&signer.jwks(), signer.issuer(), signer.audience());
        let notifications = Arc::new(
            Notifications::start(&config, verifier)
                .await
                .expect("start")
                .with_reclaim_idle(reclaim_idle),
        );
        let shutdown = CancellationToken::new();
        if consume {
            kit::lifecycle::start_background(&notifications, &shutdown);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(kit::server::serve(
            listener,
            notifications.app(shutdown.clone()),
            shutdown.clone(),
        ));
        Self {
            base,
            notifications,
            shutdown,
        }
    }

    fn client(&self, signer: &TokenSigner, user: &str) -> GqlClient {
        let (token, _) = signer
            .sign(user, chrono::Duration::minutes(5))
            .expect("sign");
        GqlClient::new(format!("{}/graphql", self.base)).with_token(token)
    }

    async fn append(&self, stream: &str, event: &DomainEvent) {
        self.notifications
            .infra
            .events
            .append(stream, event)
            .await
            .expect("append");
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn signer() -> TokenSigner {
    TokenSigner::ephemeral("platform-accounts", "platform")
}

fn registered(user: &str, name: &str) -> DomainEvent {
    DomainEvent::new(
        "UserRegistered",
        user,
        json!({"userId": user, "name": name}),
    )
}

fn assigned(actor: &str, assignee: &str, task: &str, title: &str) -> DomainEvent {
    DomainEvent::new(
        "TaskAssigned",
        actor,
        json!({"boardId": "board-1", "taskId": task, "taskTitle": title, "assigneeId": assignee}),
    )
}

const INBOX: &str = "query($u: Boolean, $n: Int, $a: String) { notifications(unreadOnly: $u, first: $n, after: $a) { edges { cursor node { id kind text read recipient { id } actor { id } task { id } board { id } message { id } } } pageInfo { hasNextPage endCursor } } }";

async fn inbox(client: &GqlClient) -> Vec<Value> {
    let data = client.ok(INBOX, json!({"n": 100})).await;
    data["notifications"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

/// Polls until `client` has `count` notifications (consumers run in the background).
async fn wait_for(client: &GqlClient, count: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let items = inbox(client).await;
        if items.len() >= count {
            return items;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {count} notifications arrived",
            items.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn subscribe(base: &str, signer: &TokenSigner, user: &str) -> Subscription {
    let (token, _) = signer
        .sign(user, chrono::Duration::minutes(5))
        .expect("sign");
    Subscription::start(
        base,
        &token,
        "subscription { notificationAdded { kind text recipient { id } } }",
    )
    .await
}

#[tokio::test]
async fn each_event_kind_is_stored_and_streamed_to_its_recipient() {
    let dir = tempfile::tempdir().expect("tempdir");
    let signer = signer();
    let replica = Replica::start(dir.path(), None, &signer).await;
    let mut live = subscribe(&replica.base, &signer, BOB).await;
    replica.append("accounts", &registered(ADA, "Ada")).await;
    replica
        .append(
            "boards",
            &DomainEvent::new(
                "BoardCreated",
                ADA,
                json!({"boardId": "board-1", "name": "Launch", "ownerId": ADA}),
            ),
        )
        .await;
    // Events are consumed per stream: let the names land before the events that use them.
    tokio::time::sleep(Duration::from_millis(300)).await;
    replica
        .append("boards", &assigned(ADA, BOB, "task-1", "Fix login"))
        .await;
    replica
        .append(
            "boards",
            &DomainEvent::new(
                "BoardMemberAdded",
                ADA,
                json!({"boardId": "board-1", "userId": BOB, "role": "MEMBER"}),
            ),
        )
        .await;
    let posted = json!({"roomId": "room-1", "messageId": "msg-1", "authorId": ADA, "mentionedUserIds": [BOB, ADA, CAROL]});
    replica
        .append("chat", &DomainEvent::new("MessagePosted", ADA, posted))
        .await;

    let mut streamed = Vec::new();
    for _ in 0..3 {
        let message = live.next().await;
        assert_eq!(message["type"], "next", "{message}");
        streamed.push(message["payload"]["data"]["notificationAdded"].clone());
    }
    let mut texts: Vec<&str> = streamed
        .iter()
        .map(|n| n["text"].as_str().expect("text"))
        .collect();
    texts.sort();
    assert_eq!(
        texts,
        [
            "Ada added you to “Launch”",
            "Ada assigned you “Fix login”",
            "Ada mentioned you in chat"
        ]
    );
    assert!(streamed.iter().all(|n| n["recipient"]["id"] == BOB));

    let bob = wait_for(&replica.client(&signer, BOB), 3).await;
    let kinds: Vec<&str> = bob
        .iter()
        .map(|n| n["kind"].as_str().expect("kind"))
        .collect();
    let at = |kind: &str| {
        kinds
            .iter()
            .position(|k| *k == kind)
            .unwrap_or_else(|| panic!("no {kind} in {kinds:?}"))
    };
    // Streams are consumed independently; within the boards stream, newest comes first.
    assert!(at("BOARD_MEMBER_ADDED") < at("TASK_ASSIGNED"), "{kinds:?}");
    let assigned = &bob[at("TASK_ASSIGNED")];
    assert_eq!(assigned["task"]["id"], "task-1");
    assert_eq!(assigned["board"]["id"], "board-1");
    assert_eq!(assigned["actor"]["id"], ADA);
    let mentioned = &bob[at("MENTIONED")];
    assert_eq!(mentioned["message"]["id"], "msg-1");
    assert_eq!(mentioned["task"], Value::Null);
    let carol = wait_for(&replica.client(&signer, CAROL), 1).await;
    assert_eq!(carol.len(), 1);
    assert_eq!(
        inbox(&replica.client(&signer, ADA)).await,
        Vec::<Value>::new(),
        "the author is not notified"
    );
}

#[tokio::test]
async fn acting_on_yourself_notifies_nobody() {
    let dir = tempfile::tempdir().expect("tempdir");
    let signer = signer();
    let replica = Replica::start(dir.path(), None, &signer).await;
    replica
        .append("boards", &assigned(ADA, ADA, "task-1", "Mine"))
        .await;
    replica
        .append(
            "boards",
            &DomainEvent::new(
                "BoardMemberAdded",
                ADA,
                json!({"boardId": "b", "userId": ADA, "role": "OWNER"}),
            ),
        )
        .await;
    replica
        .append("chat", &DomainEvent::new("MessagePosted", ADA, json!({"roomId": "r", "messageId": "m", "authorId": ADA, "mentionedUserIds": [ADA]})))
        .await;
    // A later event for someone else proves the earlier ones were processed, not pending.
    replica
        .append("boards", &assigned(ADA, BOB, "task-2", "Yours"))
        .await;
    wait_for(&replica.client(&signer, BOB), 1).await;
    assert!(inbox(&replica.client(&signer, ADA)).await.is_empty());
}

#[tokio::test]
async fn a_redelivered_event_creates_nothing_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let signer = signer();
    let replica = Replica::start(dir.path(), None, &signer).await;
    let event = assigned(ADA, BOB, "task-1", "Once");
    replica.append("boards", &event).await;
    replica.append("boards", &event).await;
    replica
        .append("boards", &assigned(ADA, BOB, "task-2", "Marker"))
        .await;
    let bob = replica.client(&signer, BOB);
    wait_for(&bob, 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let texts: Vec<Value> = inbox(&bob)
        .await
        .iter()
        .map(|n| n["text"].clone())
        .collect();
    assert_eq!(
        texts,
        [
            json!("Someone assigned you “Marker”"),
            json!("Someone assigned you “Once”")
        ]
    );
}

#[tokio::test]
async fn a_consumer_killed_mid_batch_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let signer = signer();
    let replica =
        Replica::start_with(dir.path(), None, &signer, Duration::from_millis(300), false).await;
    let events = replica.notifications.infra.events.clone();
    events
        .ensure_group("boards", notifications::events::GROUP)
        .await
        .expect("group");
    for i in 0..5 {
        replica
            .append(
                "boards",
                &assigned(ADA, BOB, &format!("task-{i}"), &format!("T{i}")),
            )
            .await;
    }
    // The doomed consumer takes the whole batch, stores three, and dies before acking anything.
    let batch = events
        .read_new(
            "boards",
            notifications::events::GROUP,
            "doomed",
            10,
            Duration::from_millis(10),
        )
        .await
        .expect("read");
    assert_eq!(batch.len(), 5);
    let handler = notifications::events::Handler {
        service: replica.notifications.service.clone(),
    };
    for delivery in &batch[..3] {
        handler.handle(&delivery.event).await.expect("handle");
    }
    assert_eq!(
        events
            .pending_count("boards", notifications::events::GROUP)
            .await
            .expect("pending"),
        5
    );

    // A restarted consumer reclaims the dead one's entries once they are idle long enough.
    let consumers = kit::lifecycle::start_background(&replica.notifications, &replica.shutdown);
    let bob = replica.client(&signer, BOB);
    wait_for(&bob, 5).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while events
        .pending_count("boards", notifications::events::GROUP)
        .await
        .expect("pending")
        > 0
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "entries left pending"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut titles: Vec<String> = inbox(&bob)
        .await
        .iter()
        .map(|n| n["text"].as_str().expect("text").to_owned())
        .collect();
    titles.sort();
    let expected: Vec<String> = (0..5)
        .map(|i| format!("Someone assigned you “T{i}”"))
        .collect();
    assert_eq!(titles, expected, "each exactly once");
    replica.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), consumers.stop())
        .await
        .expect("consumers stop");
}

#[tokio::test]
async fn two_replicas_share_one_stream_without_duplicates() {
    let Some(redis) = kit::testing::require_redis() else {
        return;
    };
    let prefix = kit::testing::unique_prefix("notifications_replicas");
    let dir = tempfile::tempdir().expect("tempdir");
    let signer = signer();
    let one = Replica::start(dir.path(), Some((&redis.url, &prefix)), &signer).await;
    let two = Replica::start(dir.path(), Some((&redis.url, &prefix)), &signer).await;
    let mut live = subscribe(&two.base, &signer, BOB).await;
    for i in 0..40 {
        let replica = if i % 2 == 0 { &one } else { &two };
        replica
            .append(
                "boards",
                &assigned(ADA, BOB, &format!("task-{i}"), &format!("T{i}")),
            )
            .await;
    }
    let mut streamed = 0;
    while streamed < 40 {
        let message = live.next().await;
        assert_eq!(message["type"], "next", "{message}");
        streamed += 1;
    }
    let bob = one.client(&signer, BOB);
    let all = wait_for(&bob, 40).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let all_again = inbox(&bob).await;
    assert_eq!(all.len(), 40);
    assert_eq!(all_again.len(), 40, "a duplicate arrived late");
    let count = bob.ok("{ _entities(representations: [{__typename: \"User\", id: \"user-bob\"}]) { ... on User { unreadNotificationCount } } }", json!({})).await;
    assert_eq!(count["_entities"][0]["unreadNotificationCount"], 40);
}

#[tokio::test]
async fn only_the_recipient_sees_or_marks_a_notification() {
    let dir = tempfile::tempdir().expect("tempdir");
    let signer = signer();
    let replica = Replica::start(dir.path(), None, &signer).await;
    replica
        .append("boards", &assigned(ADA, BOB, "task-1", "Private"))
        .await;
    let bob = replica.client(&signer, BOB);
    let carol = replica.client(&signer, CAROL);
    let id = wait_for(&bob, 1).await[0]["id"].clone();

    let user_view = "query($id: ID!) { _entities(representations: [{__typename: \"User\", id: $id}]) { ... on User { unreadNotificationCount notifications { edges { node { id } } } } } }";
    let as_carol = carol.ok(user_view, json!({"id": BOB})).await;
    assert_eq!(
        as_carol["_entities"][0],
        json!({"unreadNotificationCount": 0, "notifications": {"edges": []}})
    );
    let as_bob = bob.ok(user_view, json!({"id": BOB})).await;
    assert_eq!(as_bob["_entities"][0]["unreadNotificationCount"], 1);

    let mark = "mutation($id: ID!) { markNotificationRead(id: $id) { id read } }";
    assert_eq!(carol.error_code(mark, json!({"id": id})).await, "FORBIDDEN");
    assert_eq!(
        bob.error_code(mark, json!({"id": "not-a-notification"}))
            .await,
        "NOT_FOUND"
    );
    let entity = "query($id: ID!) { _entities(representations: [{__typename: \"Notification\", id: $id}]) { ... on Notification { text } } }";
    assert_eq!(
        carol.ok(entity, json!({"id": id})).await["_entities"][0],
        Value::Null
    );
    assert_eq!(
        bob.ok(entity, json!({"id": id})).await["_entities"][0]["text"],
        "Someone assigned you “Private”"
    );
    let anonymous = GqlClient::new(format!("{}/graphql", replica.base));
    assert_eq!(
        anonymous.error_code(INBOX, json!({})).await,
        "UNAUTHENTICATED"
    );
    assert_eq!(
        anonymous
            .error_code("mutation { markAllNotificationsRead }", json!({}))
            .await,
        "UNAUTHENTICATED"
    );

    let marked = bob.ok(mark, json!({"id": id})).await;
    assert_eq!(marked["markNotificationRead"]["read"], true);
    assert_eq!(
        bob.ok(INBOX, json!({"u": true})).await["notifications"]["edges"],
        json!([])
    );
}

#[tokio::test]
async fn unread_counts_stay_right_under_concurrent_marks_and_inserts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let signer = signer();
    let replica = Replica::start(dir.path(), None, &signer).await;
    for i in 0..30 {
        replica
            .append("boards", &assigned(ADA, BOB, &format!("a-{i}"), "A"))
            .await;
    }
    let bob = replica.client(&signer, BOB);
    let first = wait_for(&bob, 30).await;
    let marks = first.iter().take(15).map(|n| {
        let bob = bob.clone();
        let id = n["id"].clone();
        tokio::spawn(async move {
            bob.ok(
                "mutation($id: ID!) { markNotificationRead(id: $id) { id } }",
                json!({"id": id}),
            )
            .await
        })
    });
    let inserts = async {
        for i in 0..10 {
            replica
                .append("boards", &assigned(ADA, BOB, &format!("b-{i}"), "B"))
                .await;
        }
    };
    let (marked, ()) = tokio::join!(futures::future::join_all(marks), inserts);
    assert!(marked.iter().all(Result::is_ok));
    wait_for(&bob, 40).await;
    let count = "{ _entities(representations: [{__typename: \"User\", id: \"user-bob\"}]) { ... on User { unreadNotificationCount } } }";
    assert_eq!(
        bob.ok(count, json!({})).await["_entities"][0]["unreadNotificationCount"],
        25
    );
    assert_eq!(
        bob.ok("mutation { markAllNotificationsRead }", json!({}))
            .await["markAllNotificationsRead"],
        25
    );
    assert_eq!(
        bob.ok(count, json!({})).await["_entities"][0]["unreadNotificationCount"],
        0
    );
    assert_eq!(
        bob.ok("mutation { markAllNotificationsRead }", json!({}))
            .await["markAllNotificationsRead"],
        0
    );
}

#[tokio::test]
async fn pages_newest_first_with_opaque_cursors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let signer = signer();
    let replica = Replica::start(dir.path(), None, &signer).await;
    for i in 0..5 {
        replica
            .append(
                "boards",
                &assigned(ADA, BOB, &format!("t-{i}"), &format!("T{i}")),
            )
            .await;
    }
    let bob = replica.client(&signer, BOB);
    wait_for(&bob, 5).await;
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let page = bob.ok(INBOX, json!({"n": 2, "a": after})).await["notifications"].clone();
        for edge in page["edges"].as_array().expect("edges") {
            seen.push(edge["node"]["text"].as_str().expect("text").to_owned());
        }
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    let expected: Vec<String> = (0..5)
        .rev()
        .map(|i| format!("Someone assigned you “T{i}”"))
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(
        bob.error_code(INBOX, json!({"a": "bogus"})).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        bob.error_code(INBOX, json!({"n": 101})).await,
        "BAD_USER_INPUT"
    );
}
