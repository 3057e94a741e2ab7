//! Stored documents of the boards subgraph and the enums they share with the API.
//!
//! Timestamps are integer milliseconds (the kit's stored form). Members live inside their board
//! document so that one read answers "who may see this board" and N boards are one query.

use async_graphql::Enum;
use serde::{Deserialize, Serialize};

pub const BOARDS: &str = "boards";
pub const TASKS: &str = "tasks";

/// A task's column. Declaration order is the column order on a board.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatus {
    Todo,
    InProgress,
    InReview,
    Done,
}

impl TaskStatus {
    /// The column's index, stored next to the status so tasks sort by column natively.
    pub fn rank(self) -> i64 {
        match self {
            TaskStatus::Todo => 0,
            TaskStatus::InProgress => 1,
            TaskStatus::InReview => 2,
            TaskStatus::Done => 3,
        }
    }

    /// The stored string form (as in documents and filters).
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Todo => "TODO",
            TaskStatus::InProgress => "IN_PROGRESS",
            TaskStatus::InReview => "IN_REVIEW",
            TaskStatus::Done => "DONE",
        }
    }
}

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskPriority {
    Low,
    Medium,
    High,
    Urgent,
}

impl TaskPriority {
    /// The stored string form.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskPriority::Low => "LOW",
            TaskPriority::Medium => "MEDIUM",
            TaskPriority::High => "HIGH",
            TaskPriority::Urgent => "URGENT",
        }
    }
}

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BoardRole {
    Owner,
    Member,
}

impl BoardRole {
    /// The form used in documents and domain events.
    pub fn as_str(self) -> &'static str {
        match self {
            BoardRole::Owner => "OWNER",
            BoardRole::Member => "MEMBER",
        }
    }
}

/// One member of a board.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MemberDoc {
    pub user_id: String,
    pub role: BoardRole,
    pub joined_at: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BoardDoc {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub owner_id: String,
    /// In joining order; the owner first.
    pub members: Vec<MemberDoc>,
    /// The members' user ids again, as a flat array the store can index and match.
    pub member_ids: Vec<String>,
    /// Bumped by every membership change: member edits are compare-and-swap on it.
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// Deleted, with its `BoardDeleted` event not yet sent (`kit::outbox::RETIRED`): readers
    /// treat it as gone.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retired: bool,
}

impl kit::outbox::HasId for BoardDoc {
    fn id(&self) -> &str {
        &self.id
    }
}

impl BoardDoc {
    pub fn is_member(&self, user_id: &str) -> bool {
        self.member_ids.iter().any(|id| id == user_id)
    }

    pub fn is_owner(&self, user_id: &str) -> bool {
        self.owner_id == user_id
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TaskDoc {
    pub id: String,
    pub board_id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub status: TaskStatus,
    /// `status.rank()`, so (statusRank, position, id) is the board order.
    pub status_rank: i64,
    pub priority: TaskPriority,
    /// Fractional order within the column (see `position.rs`).
    pub position: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee_id: Option<String>,
    pub creator_id: String,
    pub labels: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl kit::outbox::HasId for TaskDoc {
    fn id(&self) -> &str {
        &self.id
    }
}
