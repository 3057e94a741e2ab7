//! Fractional ordering: `moveTask` places tasks exactly, writes one document, and survives many
//! moves, including exhausting a gap's precision (which triggers one column rebalance).

mod common;

use std::collections::HashMap;

use common::{
    code, column, create_board, create_task, move_task, Actor, Server, BOARD_TASKS, MOVE_TASK,
};
use serde_json::json;

const STATUSES: [&str; 4] = ["TODO", "IN_PROGRESS", "IN_REVIEW", "DONE"];

/// The expected board: ids per column, in order.
#[derive(Default)]
struct Model(HashMap<&'static str, Vec<String>>);

impl Model {
    fn push(&mut self, status: &'static str, id: &str) {
        self.0.entry(status).or_default().push(id.to_owned());
    }

    fn apply(&mut self, id: &str, status: &'static str, before: Option<&str>) {
        for tasks in self.0.values_mut() {
            tasks.retain(|t| t != id);
        }
        let target = self.0.entry(status).or_default();
        let index = before
            .and_then(|b| target.iter().position(|t| t == b))
            .unwrap_or(target.len());
        target.insert(index, id.to_owned());
    }

    /// (id, status) in board order: columns in enum order, tasks in column order.
    fn board(&self) -> Vec<(String, String)> {
        STATUSES
            .iter()
            .flat_map(|s| {
                self.0
                    .get(s)
                    .into_iter()
                    .flatten()
                    .map(|id| (id.clone(), (*s).to_owned()))
            })
            .collect()
    }
}

/// (id, status, position) of a whole board, in the order the API returns it.
async fn board_order(actor: &Actor, board: &str) -> Vec<(String, String, f64)> {
    let data = actor
        .client
        .ok(BOARD_TASKS, json!({"id": board, "f": 100}))
        .await;
    data["board"]["tasks"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| {
            let n = &e["node"];
            (
                n["id"].as_str().expect("id").to_owned(),
                n["status"].as_str().expect("status").to_owned(),
                n["position"].as_f64().expect("position"),
            )
        })
        .collect()
}

fn assert_matches(model: &Model, actual: &[(String, String, f64)], step: usize) {
    let got: Vec<(String, String)> = actual
        .iter()
        .map(|(i, s, _)| (i.clone(), s.clone()))
        .collect();
    assert_eq!(got, model.board(), "order differs after move {step}");
    for pair in actual.windows(2) {
        if pair[0].1 == pair[1].1 {
            assert!(
                pair[0].2 < pair[1].2,
                "positions not strictly increasing after move {step}: {pair:?}"
            );
        }
    }
}

#[tokio::test]
async fn moves_place_tasks_before_the_given_task_or_last() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let ada = server.user();
    let board = create_board(&ada, "B").await;
    let mut ids = Vec::new();
    for title in ["a", "b", "c", "d"] {
        ids.push(create_task(&ada, &board, title, "TODO").await);
    }
    let (a, b, c, d) = (
        ids[0].clone(),
        ids[1].clone(),
        ids[2].clone(),
        ids[3].clone(),
    );
    assert_eq!(
        &column(&ada, &board, "TODO").await,
        &ids,
        "creation appends"
    );
    move_task(&ada, &d, "TODO", Some(&a)).await;
    assert_eq!(
        column(&ada, &board, "TODO").await,
        [&d, &a, &b, &c].map(String::clone).to_vec()
    );
    move_task(&ada, &a, "IN_PROGRESS", None).await;
    move_task(&ada, &b, "IN_PROGRESS", Some(&a)).await;
    assert_eq!(
        column(&ada, &board, "TODO").await,
        [&d, &c].map(String::clone).to_vec()
    );
    assert_eq!(
        column(&ada, &board, "IN_PROGRESS").await,
        [&b, &a].map(String::clone).to_vec()
    );
    move_task(&ada, &c, "TODO", None).await;
    assert_eq!(
        column(&ada, &board, "TODO").await,
        [&d, &c].map(String::clone).to_vec(),
        "already last"
    );

    let other_column = ada
        .client
        .post(MOVE_TASK, json!({"id": d, "s": "TODO", "b": a}))
        .await;
    assert_eq!(code(&other_column), "BAD_USER_INPUT");
    assert_eq!(
        other_column["errors"][0]["extensions"]["field"],
        "beforeTaskId"
    );
    let itself = ada
        .client
        .post(MOVE_TASK, json!({"id": d, "s": "TODO", "b": d}))
        .await;
    assert_eq!(itself["errors"][0]["extensions"]["field"], "beforeTaskId");
    let elsewhere = create_board(&ada, "Other").await;
    let foreign = create_task(&ada, &elsewhere, "x", "TODO").await;
    let body = ada
        .client
        .post(MOVE_TASK, json!({"id": d, "s": "TODO", "b": foreign}))
        .await;
    assert_eq!(
        code(&body),
        "NOT_FOUND",
        "a task of another board is not on this board"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_move_writes_exactly_one_document() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let ada = server.user();
    let board = create_board(&ada, "B").await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(create_task(&ada, &board, &format!("t{i}"), "TODO").await);
    }
    for (task, before) in [
        (&ids[19], Some(&ids[0])),
        (&ids[5], Some(&ids[6])),
        (&ids[0], None),
    ] {
        let writes = server.store_calls("update_one") + server.store_calls("update_many");
        let inserts = server.store_calls("insert");
        move_task(&ada, task, "TODO", before.map(String::as_str)).await;
        let after = server.store_calls("update_one") + server.store_calls("update_many");
        assert_eq!(after - writes, 1, "one document written per move");
        assert_eq!(server.store_calls("insert"), inserts);
    }
    server.stop().await;
}

/// A small deterministic generator, so a failure replays identically.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

#[tokio::test]
async fn many_random_moves_keep_the_board_in_model_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let ada = server.user();
    let board = create_board(&ada, "B").await;
    let mut model = Model::default();
    let mut ids = Vec::new();
    for i in 0..12 {
        let status = STATUSES[i % 4];
        let id = create_task(&ada, &board, &format!("t{i}"), status).await;
        model.push(status, &id);
        ids.push(id);
    }
    let mut rng = Lcg(42);
    for step in 0..150 {
        let task = ids[rng.below(ids.len())].clone();
        let status = STATUSES[rng.below(4)];
        let candidates: Vec<String> = model
            .0
            .get(status)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|t| *t != task)
            .collect();
        let before = match rng.below(candidates.len() + 1) {
            i if i < candidates.len() => Some(candidates[i].clone()),
            _ => None,
        };
        move_task(&ada, &task, status, before.as_deref()).await;
        model.apply(&task, status, before.as_deref());
        assert_matches(&model, &board_order(&ada, &board).await, step);
    }
    server.stop().await;
}

#[tokio::test]
async fn exhausting_a_gap_rebalances_the_column_once_and_keeps_the_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let ada = server.user();
    let board = create_board(&ada, "B").await;
    let mut model = Model::default();
    for title in ["first", "second", "third", "fourth"] {
        let id = create_task(&ada, &board, title, "TODO").await;
        model.push("TODO", &id);
    }
    let mut rebalances = 0;
    for step in 0..80 {
        // Always into the gap right after the first task: it halves every time.
        let order = model.0["TODO"].clone();
        let (task, before) = (order[order.len() - 1].clone(), order[1].clone());
        let writes = server.store_calls("update_one");
        move_task(&ada, &task, "TODO", Some(&before)).await;
        let written = server.store_calls("update_one") - writes;
        if written > 1 {
            rebalances += 1;
        }
        model.apply(&task, "TODO", Some(&before));
        assert_matches(&model, &board_order(&ada, &board).await, step);
    }
    assert!(
        (1..=4).contains(&rebalances),
        "{rebalances} rebalances in 80 moves into one gap"
    );
    server.stop().await;
}
