//! A notifications process killed after storing a notification but before acknowledging the
//! event that caused it: the event is delivered again after the restart and the recipient
//! still has one notification.

use std::time::Duration;

use kit::events::{DomainEvent, EmbeddedEventStream, EventStream};
use kit::store::Filter;
use kit::test_process::{eventually, open_store, ServiceProcess};
use notifications::events::GROUP;
use notifications::model::{NotificationDoc, NOTIFICATIONS};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_handled_event_redelivered_after_a_crash_notifies_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spawn = |fault: Option<&str>| {
        let mut env = vec![("NOTIFICATIONS_EVENT_RECLAIM_IDLE_SECS", "1")];
        env.extend(fault.map(|fault| (kit::testing::FAULT_ENV, fault)));
        ServiceProcess::spawn(
            env!("CARGO_BIN_EXE_notifications"),
            "NOTIFICATIONS_",
            dir.path(),
            &env,
        )
    };
    let mut process = spawn(Some("consumer-before-ack"));
    process.wait_ready().await;
    let metrics = kit::metrics::Metrics::new("test");
    let events = EmbeddedEventStream::open(&dir.path().join("events.db"), metrics).expect("events");
    let payload =
        json!({"boardId": "b1", "taskId": "t1", "taskTitle": "Ship", "assigneeId": "bob"});
    let event = DomainEvent::new("TaskAssigned", "ada", payload);
    events.append("boards", &event).await.expect("append");

    let store = open_store(dir.path(), "notifications").await;
    let inbox = store.collection::<NotificationDoc>(NOTIFICATIONS);
    let bobs = Filter::eq("recipientId", "bob");
    eventually(
        "the notification, its event unacknowledged",
        WAIT,
        || async {
            let stored = inbox.count(&bobs).await.expect("count");
            (stored == 1).then_some(())
        },
    )
    .await;
    let pending = || async {
        events
            .pending_count("boards", GROUP)
            .await
            .expect("pending")
    };
    assert_eq!(pending().await, 1, "handled but not acknowledged");
    process.kill();

    let mut restarted = spawn(None);
    restarted.wait_ready().await;
    eventually("the redelivered event acknowledged", WAIT, || async {
        (pending().await == 0).then_some(())
    })
    .await;
    assert_eq!(inbox.count(&bobs).await.expect("count"), 1, "notified once");
    let handled = restarted.metrics().await;
    assert!(
        handled.contains("outcome=\"redelivered\""),
        "the restarted consumer got the event again:\n{handled}"
    );
}
