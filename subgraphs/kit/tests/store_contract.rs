//! The storage contract: one suite, run on the embedded backend always and on MongoDB whenever
//! `MONGODB_URL` names a server. Without it the MongoDB cases are reported as ignored, by name,
//! with the reason (see shared/SERVICES.md); the test command runs them with `--ignored` when the
//! variable is set.

use std::sync::Arc;

use kit::metrics::Metrics;
use kit::store::{
    Backend, EmbeddedStore, Filter, FindOptions, IndexSpec, MongoStore, Order, Store, StoreError,
    Update,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Item {
    id: String,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    rank: i64,
    position: f64,
    tags: Vec<String>,
    #[serde(default)]
    used: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    meta: Option<serde_json::Value>,
}

fn item(id: &str, name: &str, rank: i64, position: f64, tags: &[&str]) -> Item {
    Item {
        id: id.into(),
        name: name.into(),
        email: None,
        rank,
        position,
        tags: tags.iter().map(|t| t.to_string()).collect(),
        used: false,
        meta: None,
    }
}

fn ids(items: &[Item]) -> Vec<&str> {
    items.iter().map(|i| i.id.as_str()).collect()
}

async fn seeded(store: &Store) -> kit::store::Collection<Item> {
    store
        .ensure_indexes(&[
            IndexSpec::new("items", &["email"]).unique(),
            IndexSpec::new("items", &["rank", "position"]),
        ])
        .await
        .expect("indexes");
    let items = store.collection::<Item>("items");
    for it in [
        item("a", "Ada", 1, 1.5, &["x", "y"]),
        item("b", "Bob", 2, 0.25, &["y"]),
        item("c", "Cy", 2, 0.125, &[]),
        item("d", "Di", 3, 10.0, &["x"]),
    ] {
        items.insert(&it).await.expect("insert");
    }
    items
}

async fn insert_get_and_duplicates(store: Store) {
    let items = seeded(&store).await;
    assert_eq!(
        items.get("a").await.expect("get").expect("found").name,
        "Ada"
    );
    assert_eq!(items.get("nope").await.expect("get"), None);
    assert_eq!(items.get("' OR 1=1 --").await.expect("get"), None);
    let mut got = items
        .get_many(&["d".into(), "zz".into(), "a".into()])
        .await
        .expect("many");
    got.sort_by(|x, y| x.id.cmp(&y.id));
    assert_eq!(ids(&got), ["a", "d"]);
    let err = items
        .insert(&item("a", "Again", 0, 0.0, &[]))
        .await
        .expect_err("duplicate id");
    assert!(err.is_duplicate(), "{err:?}");
    let mut e1 = item("e1", "E", 0, 0.0, &[]);
    e1.email = Some("same@example.com".into());
    items.insert(&e1).await.expect("insert");
    let mut e2 = item("e2", "E", 0, 0.0, &[]);
    e2.email = Some("same@example.com".into());
    let err = items.insert(&e2).await.expect_err("duplicate email");
    assert!(err.is_duplicate(), "{err:?}");
    assert_eq!(
        items.get("e2").await.expect("get"),
        None,
        "a refused insert wrote nothing"
    );
}

async fn filters_sorting_and_limits(store: Store) {
    let items = seeded(&store).await;
    let find = |f: Filter| {
        let items = items.clone();
        async move {
            let opts = FindOptions::default().sort("id", Order::Asc);
            items.find(&f, &opts).await.expect("find")
        }
    };
    assert_eq!(ids(&find(Filter::eq("rank", 2)).await), ["b", "c"]);
    assert_eq!(ids(&find(Filter::ne("rank", 2)).await), ["a", "d"]);
    assert_eq!(
        ids(&find(Filter::is_in("name", ["Ada", "Di", "Zed"])).await),
        ["a", "d"]
    );
    assert_eq!(
        ids(&find(Filter::is_in("name", Vec::<String>::new())).await),
        Vec::<&str>::new()
    );
    assert_eq!(ids(&find(Filter::gt("position", 0.25)).await), ["a", "d"]);
    assert_eq!(ids(&find(Filter::lte("position", 0.25)).await), ["b", "c"]);
    assert_eq!(
        ids(&find(Filter::gte("rank", 2).and(Filter::lt("rank", 3))).await),
        ["b", "c"]
    );
    assert_eq!(ids(&find(Filter::contains("tags", "x")).await), ["a", "d"]);
    assert_eq!(
        ids(&find(Filter::Or(vec![
            Filter::eq("id", "a"),
            Filter::eq("rank", 3)
        ]))
        .await),
        ["a", "d"]
    );
    assert_eq!(ids(&find(Filter::Or(vec![])).await), Vec::<&str>::new());
    assert_eq!(ids(&find(Filter::All).await), ["a", "b", "c", "d"]);
    assert_eq!(
        ids(&find(Filter::eq("email", serde_json::Value::Null)).await),
        ["a", "b", "c", "d"]
    );
    assert_eq!(
        ids(&find(Filter::eq("name", "ada")).await),
        Vec::<&str>::new(),
        "equality is case-sensitive"
    );
    // Keyset pagination: rows after (rank 2, position 0.125) in (rank, position) order.
    let after = Filter::Or(vec![
        Filter::gt("rank", 2),
        Filter::eq("rank", 2).and(Filter::gt("position", 0.125)),
    ]);
    let opts = FindOptions::default()
        .sort("rank", Order::Asc)
        .sort("position", Order::Asc)
        .limit(2);
    assert_eq!(
        ids(&items.find(&after, &opts).await.expect("page")),
        ["b", "d"]
    );
    let desc = FindOptions::default()
        .sort("position", Order::Desc)
        .limit(3);
    assert_eq!(
        ids(&items.find(&Filter::All, &desc).await.expect("desc")),
        ["d", "a", "b"]
    );
    assert_eq!(
        items
            .count(&Filter::contains("tags", "y"))
            .await
            .expect("count"),
        2
    );
    assert_eq!(items.count(&Filter::All).await.expect("count"), 4);
}

async fn updates(store: Store) {
    let items = seeded(&store).await;
    let updated = items
        .update_one(
            &Filter::eq("id", "a"),
            &Update::new()
                .set("name", "Ada L")
                .inc("rank", 5)
                .add_to_set("tags", "z")
                .set("meta.color", "red"),
        )
        .await
        .expect("update")
        .expect("matched");
    assert_eq!(updated.tags, ["x", "y", "z"]);
    let updated = items
        .update_one(
            &Filter::eq("id", "a"),
            &Update::new().add_to_set("tags", "x"),
        )
        .await
        .expect("update")
        .expect("matched");
    assert_eq!(
        updated.tags,
        ["x", "y", "z"],
        "add_to_set keeps values unique"
    );
    let updated = items
        .update_one(&Filter::eq("id", "a"), &Update::new().pull("tags", "y"))
        .await
        .expect("update")
        .expect("matched");
    let conflicting = Update::new().add_to_set("tags", "q").pull("tags", "x");
    let err = items
        .update_one(&Filter::eq("id", "a"), &conflicting)
        .await
        .expect_err("conflict");
    assert!(matches!(err, StoreError::InvalidName(_)), "{err:?}");
    let err = items
        .update_one(&Filter::eq("id", "a"), &Update::new().set("id", "b"))
        .await
        .expect_err("id");
    assert!(matches!(err, StoreError::InvalidName(_)), "{err:?}");
    assert_eq!(updated.name, "Ada L");
    assert_eq!(updated.rank, 6);
    assert_eq!(updated.tags, ["x", "z"]);
    assert_eq!(updated.meta, Some(json!({"color": "red"})));
    assert_eq!(items.get("a").await.expect("get").expect("found"), updated);
    assert_eq!(
        ids(&items
            .find(&Filter::eq("meta.color", "red"), &FindOptions::default())
            .await
            .expect("nested")),
        ["a"]
    );

    let cleared = items
        .update_one(&Filter::eq("id", "a"), &Update::new().unset("meta"))
        .await
        .expect("unset")
        .expect("matched");
    assert_eq!(cleared.meta, None);
    let none = items
        .update_one(
            &Filter::eq("id", "a").and(Filter::eq("rank", 1)),
            &Update::new().set("name", "X"),
        )
        .await
        .expect("update");
    assert_eq!(none, None, "condition no longer holds");
    assert_eq!(
        items
            .update_many(&Filter::eq("rank", 2), &Update::new().set("used", true))
            .await
            .expect("many"),
        2
    );
    assert_eq!(
        items.count(&Filter::eq("used", true)).await.expect("count"),
        2
    );
    assert_eq!(
        items
            .delete_many(&Filter::eq("used", true))
            .await
            .expect("delete"),
        2
    );
    assert_eq!(items.count(&Filter::All).await.expect("count"), 2);

    let mut e1 = item("e1", "E", 0, 0.0, &[]);
    e1.email = Some("one@example.com".into());
    items.insert(&e1).await.expect("insert");
    let err = items
        .update_one(
            &Filter::eq("id", "a"),
            &Update::new().set("email", "one@example.com"),
        )
        .await
        .expect_err("unique violated by update");
    assert!(err.is_duplicate(), "{err:?}");
    assert_eq!(
        items.get("a").await.expect("get").expect("found").email,
        None
    );
}

async fn conditional_updates_have_one_winner(store: Store) {
    let items = seeded(&store).await;
    let attempts = (0..16).map(|_| {
        let items = items.clone();
        tokio::spawn(async move {
            items
                .update_one(
                    &Filter::eq("id", "b").and(Filter::eq("used", false)),
                    &Update::new().set("used", true),
                )
                .await
                .expect("update")
                .is_some()
        })
    });
    let winners = futures::future::join_all(attempts)
        .await
        .into_iter()
        .filter(|won| *won.as_ref().expect("task"))
        .count();
    assert_eq!(winners, 1);
    let increments = (0..20).map(|_| {
        let items = items.clone();
        tokio::spawn(async move {
            items
                .update_one(&Filter::eq("id", "c"), &Update::new().inc("rank", 1))
                .await
                .expect("inc")
        })
    });
    futures::future::join_all(increments).await;
    assert_eq!(
        items.get("c").await.expect("get").expect("found").rank,
        22,
        "no lost increments"
    );
}

async fn unsafe_names_are_rejected(store: Store) {
    let items = store.collection::<Item>("items");
    let err = items
        .find(
            &Filter::eq("name') OR 1=1 --", "x"),
            &FindOptions::default(),
        )
        .await
        .expect_err("bad field");
    assert!(matches!(err, StoreError::InvalidName(_)), "{err:?}");
    let bad = store.collection::<Item>("items; DROP TABLE x");
    assert!(bad.get("a").await.is_err());
    let strings = seeded(&store).await;
    let tricky = item("q", "O'Brien \"quoted\" ' OR '1'='1", 0, 0.0, &[]);
    strings.insert(&tricky).await.expect("insert");
    let found = strings
        .find(
            &Filter::eq("name", tricky.name.clone()),
            &FindOptions::default(),
        )
        .await
        .expect("find");
    assert_eq!(ids(&found), ["q"]);
}

fn metrics() -> Arc<Metrics> {
    Metrics::new("contract")
}

fn embedded(dir: &tempfile::TempDir) -> Store {
    let backend = EmbeddedStore::open(&dir.path().join("store.db")).expect("open");
    Store::new(Arc::new(backend), metrics())
}

async fn mongo(test: &str) -> Store {
    let url = std::env::var("MONGODB_URL")
        .expect("MONGODB_URL must name a MongoDB 6/7 server to run the MongoDB contract tests");
    let database = format!("contract_{test}_{}", uuid::Uuid::new_v4().simple());
    let backend = MongoStore::connect(&url, &database)
        .await
        .expect("connect to MongoDB");
    backend.ping().await.expect("MongoDB answers ping");
    Store::new(Arc::new(backend), metrics())
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod embedded_backend {
            $(
                #[tokio::test]
                async fn $case() {
                    let dir = tempfile::tempdir().expect("tempdir");
                    super::$case(super::embedded(&dir)).await;
                }
            )*
        }
        mod mongodb_backend {
            $(
                #[tokio::test]
                #[ignore = "needs MONGODB_URL (MongoDB 6/7); the test command runs these with --ignored when it is set"]
                async fn $case() {
                    super::$case(super::mongo(stringify!($case)).await).await;
                }
            )*
        }
    };
}

contract!(
    insert_get_and_duplicates,
    filters_sorting_and_limits,
    updates,
    conditional_updates_have_one_winner,
    unsafe_names_are_rejected,
);

#[tokio::test]
async fn embedded_data_survives_reopening() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let items = seeded(&embedded(&dir)).await;
        items
            .update_one(&Filter::eq("id", "a"), &Update::new().set("name", "Kept"))
            .await
            .expect("update");
    }
    let items = embedded(&dir).collection::<Item>("items");
    assert_eq!(
        items.get("a").await.expect("get").expect("found").name,
        "Kept"
    );
    assert_eq!(items.count(&Filter::All).await.expect("count"), 4);
}

#[tokio::test]
async fn two_handles_on_one_file_behave_as_one_store() {
    // Two handles stand for two replica processes opening the same file.
    let dir = tempfile::tempdir().expect("tempdir");
    let first = seeded(&embedded(&dir)).await;
    let second = embedded(&dir).collection::<Item>("items");
    let claims = (0..10).map(|i| {
        let items = if i % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        tokio::spawn(async move {
            items
                .update_one(
                    &Filter::eq("id", "d").and(Filter::eq("used", false)),
                    &Update::new().set("used", true),
                )
                .await
                .expect("update")
                .is_some()
        })
    });
    let winners = futures::future::join_all(claims)
        .await
        .into_iter()
        .filter(|w| *w.as_ref().expect("task"))
        .count();
    assert_eq!(winners, 1);
    second
        .insert(&item("z", "Zed", 9, 9.0, &[]))
        .await
        .expect("insert");
    assert_eq!(
        first.get("z").await.expect("get").expect("visible").name,
        "Zed"
    );
}

#[test]
fn many_handles_can_open_a_fresh_file_at_once() {
    // Replica processes starting together all switch the new file to WAL at the same moment.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("fresh.db");
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (path, barrier) = (path.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                EmbeddedStore::open(&path).map(|_| ())
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("thread").expect("open succeeds");
    }
}
