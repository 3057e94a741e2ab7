//! Relay pagination: page sizes, opaque keyset cursors and pages.
//!
//! A cursor holds the sort key of the last task seen, not an offset, so tasks inserted (or
//! moved) before it never shift the next page: the next page starts after that key.

use std::cmp::Ordering;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use kit::{ApiError, ApiResult};
use serde::{Deserialize, Serialize};

use crate::model::TaskDoc;

pub const DEFAULT_PAGE: usize = 50;
pub const MAX_PAGE: usize = 100;

/// `first` as a page size: 50 when absent, capped at [`MAX_PAGE`], never negative.
pub fn page_size(first: Option<i32>) -> ApiResult<usize> {
    match first {
        None => Ok(DEFAULT_PAGE),
        Some(n) if n < 0 => Err(ApiError::bad_input("first", "must not be negative")),
        Some(n) => Ok((n as usize).min(MAX_PAGE)),
    }
}

/// The board order of a task: column, then position, then id (ties of concurrent appends).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BoardKey {
    #[serde(rename = "s")]
    pub status_rank: i64,
    #[serde(rename = "p")]
    pub position: f64,
    #[serde(rename = "i")]
    pub id: String,
}

impl BoardKey {
    pub fn of(task: &TaskDoc) -> Self {
        Self {
            status_rank: task.status_rank,
            position: task.position,
            id: task.id.clone(),
        }
    }

    pub fn compare(&self, other: &Self) -> Ordering {
        self.status_rank
            .cmp(&other.status_rank)
            .then(self.position.total_cmp(&other.position))
            .then_with(|| self.id.cmp(&other.id))
    }
}

/// Sorts tasks into board order.
pub fn sort_board_order(tasks: &mut [TaskDoc]) {
    tasks.sort_by(|a, b| BoardKey::of(a).compare(&BoardKey::of(b)));
}

const BOARD_PREFIX: &str = "b1:";
const ID_PREFIX: &str = "i1:";

pub fn encode_board(task: &TaskDoc) -> String {
    let key = serde_json::to_string(&BoardKey::of(task)).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(format!("{BOARD_PREFIX}{key}"))
}

pub fn decode_board(cursor: &str) -> ApiResult<BoardKey> {
    let text = decode(cursor, BOARD_PREFIX)?;
    serde_json::from_str(&text).map_err(|_| bad_cursor())
}

/// A cursor over tasks in id (creation) order.
pub fn encode_id(task: &TaskDoc) -> String {
    URL_SAFE_NO_PAD.encode(format!("{ID_PREFIX}{}", task.id))
}

pub fn decode_id(cursor: &str) -> ApiResult<String> {
    decode(cursor, ID_PREFIX)
}

fn decode(cursor: &str, prefix: &str) -> ApiResult<String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| bad_cursor())?;
    let text = String::from_utf8(bytes).map_err(|_| bad_cursor())?;
    text.strip_prefix(prefix)
        .filter(|rest| !rest.is_empty())
        .map(str::to_owned)
        .ok_or_else(bad_cursor)
}

fn bad_cursor() -> ApiError {
    ApiError::bad_input("after", "not a cursor of this connection")
}

/// One page of a connection: tasks with their cursors.
#[derive(Clone, Debug)]
pub struct Page {
    pub edges: Vec<(String, TaskDoc)>,
    pub has_next_page: bool,
    pub total_count: usize,
}

impl Page {
    /// No tasks at all.
    pub fn empty() -> Self {
        Self {
            edges: Vec::new(),
            has_next_page: false,
            total_count: 0,
        }
    }
}

/// The page of `sorted` (in board order, already filtered) after `after`, `size` long.
pub fn board_page(sorted: Vec<TaskDoc>, after: Option<&BoardKey>, size: usize) -> Page {
    let total_count = sorted.len();
    let start = match after {
        None => 0,
        Some(key) => sorted.partition_point(|t| BoardKey::of(t).compare(key) != Ordering::Greater),
    };
    let has_next_page = total_count > start + size;
    let edges = sorted
        .into_iter()
        .skip(start)
        .take(size)
        .map(|task| (encode_board(&task), task))
        .collect();
    Page {
        edges,
        has_next_page,
        total_count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{TaskPriority, TaskStatus};

    fn task(id: &str, status: TaskStatus, position: f64) -> TaskDoc {
        TaskDoc {
            id: id.into(),
            board_id: "b".into(),
            title: id.into(),
            description: None,
            status,
            status_rank: status.rank(),
            priority: TaskPriority::Medium,
            position,
            assignee_id: None,
            creator_id: "u".into(),
            labels: vec![],
            due_at: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn page_sizes_default_and_cap() {
        assert_eq!(page_size(None).expect("default"), 50);
        assert_eq!(page_size(Some(1000)).expect("capped"), 100);
        assert_eq!(page_size(Some(0)).expect("zero"), 0);
        assert!(page_size(Some(-1)).is_err());
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let t = task("t1", TaskStatus::InReview, 1.5);
        assert_eq!(
            decode_board(&encode_board(&t)).expect("decodes"),
            BoardKey::of(&t)
        );
        assert_eq!(decode_id(&encode_id(&t)).expect("decodes"), "t1");
        assert!(decode_board(&encode_id(&t)).is_err(), "kinds do not mix");
        assert!(decode_board("not base64!").is_err());
        assert!(decode_id("").is_err());
    }

    #[test]
    fn pages_continue_after_the_key_even_when_tasks_were_inserted_before_it() {
        let mut tasks = vec![
            task("a", TaskStatus::Todo, 1.0),
            task("b", TaskStatus::Todo, 2.0),
            task("c", TaskStatus::Done, 1.0),
        ];
        sort_board_order(&mut tasks);
        let first = board_page(tasks.clone(), None, 2);
        assert!(first.has_next_page);
        let after = decode_board(&first.edges[1].0).expect("cursor");
        tasks.insert(0, task("z", TaskStatus::Todo, 0.5));
        let next = board_page(tasks, Some(&after), 2);
        let ids: Vec<&str> = next.edges.iter().map(|(_, t)| t.id.as_str()).collect();
        assert_eq!(ids, vec!["c"]);
        assert!(!next.has_next_page);
        assert_eq!(next.total_count, 4);
    }
}
