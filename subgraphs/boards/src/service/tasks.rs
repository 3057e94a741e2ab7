//! Task writes. Any member makes them; each publishes a task event after the write is stored.

use kit::events::DomainEvent;
use kit::store::{new_id, now_millis, Filter, Update};
use kit::{ApiError, ApiResult};

use super::BoardsService;
use crate::events::{domain, TaskEventKind};
use crate::model::{BoardDoc, TaskDoc, TaskPriority, TaskStatus};
use crate::validate;

/// `createTask`'s input, before validation.
#[derive(Clone, Debug)]
pub struct NewTask {
    pub board_id: String,
    pub title: String,
    pub description: Option<String>,
    pub status: TaskStatus,
    pub priority: TaskPriority,
    pub assignee_id: Option<String>,
    pub labels: Vec<String>,
    pub due_at: Option<i64>,
}

/// `updateTask`'s input: `None` keeps a field; `Some(None)` clears an optional one.
#[derive(Clone, Debug, Default)]
pub struct TaskChanges {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub priority: Option<TaskPriority>,
    pub labels: Option<Vec<String>>,
    pub due_at: Option<Option<i64>>,
}

/// The assignee must be a member of the board (`field` names the input that carried it).
fn check_assignee(board: &BoardDoc, user_id: &str, field: &str) -> ApiResult<String> {
    let user_id = user_id.trim();
    if board.is_member(user_id) {
        Ok(user_id.to_owned())
    } else {
        Err(ApiError::bad_input(
            field,
            "the assignee must be a member of the board",
        ))
    }
}

impl BoardsService {
    pub async fn create_task(&self, actor: &str, input: NewTask) -> ApiResult<TaskDoc> {
        let board = self.member_board(actor, &input.board_id).await?;
        let title = validate::task_title(&input.title)?;
        let description = validate::description(input.description.as_deref())?;
        let labels = validate::labels(&input.labels)?;
        let assignee_id = input
            .assignee_id
            .as_deref()
            .map(|id| check_assignee(&board, id, "assigneeId"))
            .transpose()?;
        let id = new_id();
        let position = self.place(&board.id, input.status, None, &id).await?;
        let now = now_millis();
        let task = TaskDoc {
            id,
            board_id: board.id.clone(),
            title,
            description,
            status: input.status,
            status_rank: input.status.rank(),
            priority: input.priority,
            position,
            assignee_id,
            creator_id: actor.to_owned(),
            labels,
            due_at: input.due_at,
            created_at: now,
            updated_at: now,
        };
        match &task.assignee_id {
            Some(assignee) => {
                let event = domain::task_assigned(&task, assignee, actor);
                self.publish
                    .outbox
                    .insert(&self.tasks, &task, event)
                    .await?;
            }
            None => self.tasks.insert(&task).await?,
        }
        self.invalidate_tasks(&board.id).await;
        self.publish
            .task(
                TaskEventKind::Created,
                &task.id,
                Some(&task),
                &board.id,
                actor,
            )
            .await;
        Ok(task)
    }

    pub async fn update_task(
        &self,
        actor: &str,
        task_id: &str,
        changes: TaskChanges,
    ) -> ApiResult<TaskDoc> {
        let (task, _) = self.member_task(actor, task_id).await?;
        let mut update = Update::new().set("updatedAt", now_millis());
        if let Some(title) = &changes.title {
            update = update.set("title", validate::task_title(title)?);
        }
        if let Some(description) = &changes.description {
            update = update.set_opt(
                "description",
                validate::description(description.as_deref())?,
            );
        }
        if let Some(priority) = changes.priority {
            update = update.set("priority", priority.as_str());
        }
        if let Some(labels) = &changes.labels {
            update = update.set("labels", validate::labels(labels)?);
        }
        if let Some(due_at) = changes.due_at {
            update = update.set_opt("dueAt", due_at);
        }
        let updated = self.write_task(&task, update, None).await?;
        self.publish
            .task(
                TaskEventKind::Updated,
                &updated.id,
                Some(&updated),
                &updated.board_id,
                actor,
            )
            .await;
        Ok(updated)
    }

    /// Moves a task to `status`, right before `before_id` (or last). Writes only this task's
    /// document, unless the gap is exhausted and the column is rebalanced first.
    pub async fn move_task(
        &self,
        actor: &str,
        task_id: &str,
        status: TaskStatus,
        before_id: Option<&str>,
    ) -> ApiResult<TaskDoc> {
        let (task, board) = self.member_task(actor, task_id).await?;
        let before = match before_id {
            None => None,
            Some(before_id) => Some(self.before_task(&board, &task, status, before_id).await?),
        };
        let position = self
            .place(&board.id, status, before.as_ref(), &task.id)
            .await?;
        let update = Update::new()
            .set("status", status.as_str())
            .set("statusRank", status.rank())
            .set("position", position)
            .set("updatedAt", now_millis());
        let moved = self.write_task(&task, update, None).await?;
        self.publish
            .task(
                TaskEventKind::Moved,
                &moved.id,
                Some(&moved),
                &moved.board_id,
                actor,
            )
            .await;
        Ok(moved)
    }

    /// The task to move before: on the same board, in the target column, not the task itself.
    async fn before_task(
        &self,
        board: &BoardDoc,
        task: &TaskDoc,
        status: TaskStatus,
        before_id: &str,
    ) -> ApiResult<TaskDoc> {
        let before_id = validate::id(before_id, "task")?;
        if before_id == task.id {
            return Err(ApiError::bad_input(
                "beforeTaskId",
                "a task cannot move before itself",
            ));
        }
        let before = self
            .tasks
            .get(&before_id)
            .await?
            .filter(|t| t.board_id == board.id)
            .ok_or_else(|| ApiError::not_found("task"))?;
        if before.status != status {
            return Err(ApiError::bad_input(
                "beforeTaskId",
                "that task is in another status column",
            ));
        }
        Ok(before)
    }

    /// `user_id: None` unassigns. `TaskAssigned` goes out only when the assignee changes to
    /// someone.
    pub async fn assign_task(
        &self,
        actor: &str,
        task_id: &str,
        user_id: Option<&str>,
    ) -> ApiResult<TaskDoc> {
        let (task, board) = self.member_task(actor, task_id).await?;
        let assignee = user_id
            .map(|id| check_assignee(&board, id, "userId"))
            .transpose()?;
        let update = Update::new()
            .set_opt("assigneeId", assignee.clone())
            .set("updatedAt", now_millis());
        let event = assignee
            .filter(|a| task.assignee_id.as_ref() != Some(a))
            .map(|a| domain::task_assigned(&task, &a, actor));
        let assigned = self.write_task(&task, update, event).await?;
        self.publish
            .task(
                TaskEventKind::Assigned,
                &assigned.id,
                Some(&assigned),
                &assigned.board_id,
                actor,
            )
            .await;
        Ok(assigned)
    }

    pub async fn delete_task(&self, actor: &str, task_id: &str) -> ApiResult<bool> {
        let (task, _) = self.member_task(actor, task_id).await?;
        let deleted = self
            .tasks
            .delete_many(&Filter::eq("id", task.id.as_str()))
            .await?;
        if deleted == 0 {
            return Err(ApiError::not_found("task"));
        }
        self.invalidate_tasks(&task.board_id).await;
        self.publish
            .task(
                TaskEventKind::Deleted,
                &task.id,
                None,
                &task.board_id,
                actor,
            )
            .await;
        Ok(true)
    }

    /// Updates one task document (gone meanwhile = `NOT_FOUND`) and invalidates its board's
    /// task list.
    /// Applies `update` to `task`, storing `event` with it when there is one.
    async fn write_task(
        &self,
        task: &TaskDoc,
        update: Update,
        event: Option<DomainEvent>,
    ) -> ApiResult<TaskDoc> {
        let filter = Filter::eq("id", task.id.as_str());
        let written = match event {
            Some(event) => {
                self.publish
                    .outbox
                    .update(&self.tasks, &filter, update, event)
                    .await
            }
            None => self.tasks.update_one(&filter, &update).await,
        };
        let updated = written?.ok_or_else(|| ApiError::not_found("task"))?;
        self.invalidate_tasks(&task.board_id).await;
        Ok(updated)
    }
}
