//! `taskChanged`: a board's live channel, for members only.

use async_graphql::{Context, Subscription as SubscriptionRoot, ID};
use futures::stream::{Stream, StreamExt};
use kit::federation::authenticated;
use kit::Caller;

use super::objects::{Task, TaskEvent, User};
use super::{millis, service};
use crate::events::LiveMessage;
use crate::validate;

pub struct Subscription;

/// What one live message means for one subscriber.
enum Step {
    Emit(Box<TaskEvent>),
    Skip,
    /// The subscriber lost access (removed, or the board was deleted): end the stream.
    End,
}

fn step(message: LiveMessage, user_id: &str) -> Step {
    match message {
        LiveMessage::Task {
            kind,
            board_id,
            task_id,
            task,
            actor_id,
            at,
        } => Step::Emit(Box::new(TaskEvent {
            kind,
            board_id: ID(board_id),
            task_id: ID(task_id),
            task: task.map(|t| Task::new(*t, None)),
            actor: User::stub(&actor_id),
            at: millis(at),
        })),
        LiveMessage::MemberRemoved {
            user_id: removed, ..
        } if removed == user_id => Step::End,
        LiveMessage::MemberRemoved { .. } => Step::Skip,
        LiveMessage::BoardDeleted { .. } => Step::End,
    }
}

#[SubscriptionRoot]
impl Subscription {
    /// Every change to tasks of one board, for board members only. Ends when the subscriber
    /// is removed from the board or the board is deleted.
    #[graphql(directive = authenticated::apply())]
    async fn task_changed(
        &self,
        ctx: &Context<'_>,
        board_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = TaskEvent>> {
        let caller = Caller::of(ctx);
        let user = caller.require_user()?.to_owned();
        let service = service(ctx);
        // Subscribed before the membership check, so a removal right after the check still
        // reaches this stream and ends it.
        let board_id = validate::id(&board_id, "board")?;
        let messages = service.subscribe(&board_id).await?;
        service.member_board(&user, &board_id).await?;
        let events = messages
            .map(move |message| step(message, &user))
            .take_while(|step| futures::future::ready(!matches!(step, Step::End)))
            .filter_map(|step| {
                futures::future::ready(match step {
                    Step::Emit(event) => Some(*event),
                    _ => None,
                })
            });
        Ok(events)
    }
}
