//! Board and membership writes. Only the owner makes them.

use kit::events::DomainEvent;
use kit::outbox::RETIRED;
use kit::store::{new_id, now_millis, Filter, Update};
use kit::{ApiError, ApiResult};

use super::{authorize_owner, BoardsService};
use crate::events::{domain, LiveMessage, TaskEventKind};
use crate::model::{BoardDoc, BoardRole, MemberDoc};
use crate::validate;

/// Attempts at a compare-and-swap membership change before giving up under contention.
const MEMBER_CAS_ATTEMPTS: usize = 8;

impl BoardsService {
    pub async fn create_board(
        &self,
        actor: &str,
        name: &str,
        description: Option<&str>,
    ) -> ApiResult<BoardDoc> {
        let name = validate::board_name(name)?;
        let description = validate::description(description)?;
        let now = now_millis();
        let board = BoardDoc {
            id: new_id(),
            name,
            description,
            owner_id: actor.to_owned(),
            members: vec![MemberDoc {
                user_id: actor.to_owned(),
                role: BoardRole::Owner,
                joined_at: now,
            }],
            member_ids: vec![actor.to_owned()],
            version: 0,
            created_at: now,
            updated_at: now,
            retired: false,
        };
        let event = domain::board_created(&board, actor);
        self.publish
            .outbox
            .insert(&self.boards, &board, event)
            .await?;
        Ok(board)
    }

    /// `name: None` keeps the name; `description: None` keeps it, `Some(None)` clears it.
    pub async fn update_board(
        &self,
        actor: &str,
        board_id: &str,
        name: Option<&str>,
        description: Option<Option<&str>>,
    ) -> ApiResult<BoardDoc> {
        let board = self.board(board_id).await?;
        authorize_owner(&board, actor)?;
        let mut update = Update::new().set("updatedAt", now_millis());
        let name = name.map(validate::board_name).transpose()?;
        if let Some(name) = &name {
            update = update.set("name", name.as_str());
        }
        if let Some(description) = description {
            update = update.set_opt("description", validate::description(description)?);
        }
        let event = domain::board_updated(&board.id, name.as_ref().unwrap_or(&board.name), actor);
        let live = Filter::eq("id", board.id.as_str()).and(Filter::ne(RETIRED, true));
        let updated = self
            .publish
            .outbox
            .update(&self.boards, &live, update, event)
            .await?
            .ok_or_else(|| ApiError::not_found("board"))?;
        self.invalidate_board(&board.id).await;
        Ok(updated)
    }

    /// Deletes the board and its tasks. The board goes first (retired with its `BoardDeleted`
    /// event, then removed once that is sent), so no reader sees a board whose tasks are half
    /// gone; tasks of a missing board are unreachable anyway. Once the board is gone, the cache
    /// and everyone listening learn it before the task cleanup can fail.
    pub async fn delete_board(&self, actor: &str, board_id: &str) -> ApiResult<bool> {
        let board = self.board(board_id).await?;
        authorize_owner(&board, actor)?;
        let event = domain::board_deleted(&board, actor);
        let live = Filter::eq("id", board.id.as_str()).and(Filter::ne(RETIRED, true));
        let retire = Update::new().set("updatedAt", now_millis());
        let retired = self
            .publish
            .outbox
            .retire(&self.boards, &live, retire, event)
            .await?;
        if retired.is_none() {
            return Err(ApiError::not_found("board"));
        }
        self.cache
            .invalidate(&[super::board_key(&board.id), super::tasks_key(&board.id)])
            .await;
        let message = LiveMessage::BoardDeleted {
            board_id: board.id.clone(),
        };
        self.publish.live(&board.id, &message).await;
        self.tasks
            .delete_many(&Filter::eq("boardId", board.id.as_str()))
            .await?;
        Ok(true)
    }

    /// Adds a member; adding an existing member changes nothing.
    pub async fn add_member(
        &self,
        actor: &str,
        board_id: &str,
        user_id: &str,
    ) -> ApiResult<BoardDoc> {
        let user_id = validate::user_id(user_id)?;
        let event = domain::member_added(board_id, &user_id, BoardRole::Member, actor);
        let (board, _) = self
            .change_members(actor, board_id, event, |board| {
                if board.is_member(&user_id) {
                    return Ok(None);
                }
                let mut members = board.members.clone();
                members.push(MemberDoc {
                    user_id: user_id.clone(),
                    role: BoardRole::Member,
                    joined_at: now_millis(),
                });
                Ok(Some(members))
            })
            .await?;
        Ok(board)
    }

    /// Removes a member and unassigns their tasks on this board (assignees are members).
    pub async fn remove_member(
        &self,
        actor: &str,
        board_id: &str,
        user_id: &str,
    ) -> ApiResult<BoardDoc> {
        let user_id = validate::user_id(user_id)?;
        let event = domain::member_removed(board_id, &user_id, actor);
        let (board, _) = self
            .change_members(actor, board_id, event, |board| {
                if board.is_owner(&user_id) {
                    return Err(ApiError::bad_input("userId", "the owner cannot be removed"));
                }
                if !board.is_member(&user_id) {
                    return Err(ApiError::not_found("member"));
                }
                let members = board
                    .members
                    .iter()
                    .filter(|m| m.user_id != user_id)
                    .cloned()
                    .collect();
                Ok(Some(members))
            })
            .await?;
        let message = LiveMessage::MemberRemoved {
            board_id: board.id.clone(),
            user_id: user_id.clone(),
        };
        // The removal and its event are stored: the unassignment's failure cannot hide it.
        self.publish.live(&board.id, &message).await;
        self.unassign_everywhere(actor, &board.id, &user_id).await?;
        Ok(board)
    }

    async fn unassign_everywhere(
        &self,
        actor: &str,
        board_id: &str,
        user_id: &str,
    ) -> ApiResult<()> {
        let filter = Filter::eq("boardId", board_id).and(Filter::eq("assigneeId", user_id));
        let assigned = self.tasks.find(&filter, &Default::default()).await?;
        if assigned.is_empty() {
            return Ok(());
        }
        let now = now_millis();
        let update = Update::new().unset("assigneeId").set("updatedAt", now);
        self.tasks.update_many(&filter, &update).await?;
        self.invalidate_tasks(board_id).await;
        for mut task in assigned {
            task.assignee_id = None;
            task.updated_at = now;
            self.publish
                .task(
                    TaskEventKind::Assigned,
                    &task.id,
                    Some(&task),
                    board_id,
                    actor,
                )
                .await;
        }
        Ok(())
    }

    /// Compare-and-swap on the board's `version`: `change` sees the current board (read from the
    /// store, not the cache) and returns the new member list, or `None` for "nothing to do".
    /// Returns the board after the change and whether anything changed; `event` is stored
    /// with the change (and sent), or dropped when nothing changes.
    async fn change_members<F>(
        &self,
        actor: &str,
        board_id: &str,
        event: DomainEvent,
        change: F,
    ) -> ApiResult<(BoardDoc, bool)>
    where
        F: Fn(&BoardDoc) -> ApiResult<Option<Vec<MemberDoc>>>,
    {
        let id = validate::id(board_id, "board")?;
        for _ in 0..MEMBER_CAS_ATTEMPTS {
            let board = self
                .boards
                .get(&id)
                .await?
                .filter(|board| !board.retired)
                .ok_or_else(|| ApiError::not_found("board"))?;
            authorize_owner(&board, actor)?;
            let Some(members) = change(&board)? else {
                return Ok((board, false));
            };
            let member_ids: Vec<String> = members.iter().map(|m| m.user_id.clone()).collect();
            let members = serde_json::to_value(&members).map_err(ApiError::internal)?;
            let update = Update::new()
                .set("members", members)
                .set("memberIds", member_ids)
                .set("updatedAt", now_millis())
                .inc("version", 1);
            let filter = Filter::eq("id", id.as_str())
                .and(Filter::eq("version", board.version))
                .and(Filter::ne(RETIRED, true));
            let outbox = &self.publish.outbox;
            let written = outbox.update(&self.boards, &filter, update, event.clone());
            if let Some(updated) = written.await? {
                self.invalidate_board(&id).await;
                return Ok((updated, true));
            }
        }
        Err(ApiError::internal(format!(
            "board {id}: membership kept changing concurrently"
        )))
    }
}
