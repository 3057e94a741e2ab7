//! In-repo async-graphql subgraphs of the classic demo (accounts, products, inventory,
//! reviews) that record every request, plus canned mocks for failure paths.

use async_graphql::{
    ComplexObject, EmptyMutation, EmptySubscription, Object, Schema, SimpleObject, ID,
};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use parking_lot::Mutex;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// One request a subgraph received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub body: Value,
    pub authorization: Option<String>,
}

/// A running test subgraph.
#[derive(Clone)]
pub struct TestSubgraph {
    pub url: String,
    pub log: Arc<Mutex<Vec<Recorded>>>,
    /// Delay before answering, in milliseconds (to hold requests in flight).
    pub delay_ms: Arc<AtomicU64>,
}

impl TestSubgraph {
    pub fn requests(&self) -> Vec<Recorded> {
        self.log.lock().clone()
    }

    pub fn count(&self) -> usize {
        self.log.lock().len()
    }
}

type Executor = Arc<
    dyn Fn(async_graphql::Request) -> futures::future::BoxFuture<'static, async_graphql::Response>
        + Send
        + Sync,
>;

#[derive(Clone)]
struct Served {
    sub: TestSubgraph,
    exec: Executor,
}

async fn handle(
    State(served): State<Served>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::Json<Value> {
    let json: Value = serde_json::from_slice(&body).expect("router sends JSON");
    let authorization = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_owned());
    served.sub.log.lock().push(Recorded {
        body: json.clone(),
        authorization,
    });
    let delay = served.sub.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let request: async_graphql::Request =
        serde_json::from_value(json).expect("valid GraphQL request");
    let response = (served.exec)(request).await;
    axum::Json(serde_json::to_value(response).unwrap())
}

async fn spawn_schema<Q, M, S>(schema: Schema<Q, M, S>) -> TestSubgraph
where
    Q: async_graphql::ObjectType + 'static,
    M: async_graphql::ObjectType + 'static,
    S: async_graphql::SubscriptionType + 'static,
{
    let exec: Executor = Arc::new(move |req| {
        let schema = schema.clone();
        Box::pin(async move { schema.execute(req).await })
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sub = TestSubgraph {
        url: format!("http://{}/graphql", listener.local_addr().unwrap()),
        log: Arc::default(),
        delay_ms: Arc::default(),
    };
    let app = axum::Router::new()
        .route("/graphql", post(handle))
        .with_state(Served {
            sub: sub.clone(),
            exec,
        });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    sub
}

/// Serves a canned axum app on 127.0.0.1:0 and returns its `/graphql` URL.
pub async fn spawn_mock(app: axum::Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/graphql", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// A canned mock subgraph that records every request body it receives.
#[derive(Clone)]
pub struct Mock {
    pub url: String,
    log: Arc<Mutex<Vec<Value>>>,
}

impl Mock {
    /// Request bodies in arrival order.
    pub fn requests(&self) -> Vec<Value> {
        self.log.lock().clone()
    }

    /// The `query` text of each request, in arrival order.
    pub fn queries(&self) -> Vec<String> {
        self.log
            .lock()
            .iter()
            .map(|body| body["query"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    pub fn count(&self) -> usize {
        self.log.lock().len()
    }
}

/// Where mocks sharing one timeline note `"<name> start"` and `"<name> end"` of each request.
pub type Timeline = Arc<Mutex<Vec<String>>>;

/// Starts a [`Mock`] answering each request body with `answer(body)`.
pub async fn mock(answer: impl Fn(&Value) -> Value + Send + Sync + 'static) -> Mock {
    mock_timed("", Duration::ZERO, Timeline::default(), answer).await
}

/// Like [`mock`], holding each request `delay` before answering and noting its start and end
/// on `timeline` under `name`.
pub async fn mock_timed(
    name: &str,
    delay: Duration,
    timeline: Timeline,
    answer: impl Fn(&Value) -> Value + Send + Sync + 'static,
) -> Mock {
    let log: Arc<Mutex<Vec<Value>>> = Arc::default();
    let answer = Arc::new(answer);
    let (recorder, name) = (log.clone(), name.to_owned());
    let app = axum::Router::new().route(
        "/graphql",
        post(move |axum::Json(body): axum::Json<Value>| {
            let (log, answer, timeline) = (recorder.clone(), answer.clone(), timeline.clone());
            let name = name.clone();
            async move {
                timeline.lock().push(format!("{name} start"));
                log.lock().push(body.clone());
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let response = answer(&body);
                timeline.lock().push(format!("{name} end"));
                axum::Json(response)
            }
        }),
    );
    Mock {
        url: spawn_mock(app).await,
        log,
    }
}

/// A server that accepts connections and drops them without answering.
pub async fn spawn_dropping() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/graphql", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            drop(socket);
        }
    });
    url
}

// ---- data -------------------------------------------------------------------------------

pub const USERS: [(&str, &str, &str); 2] = [
    ("1", "Ada Lovelace", "@ada"),
    ("2", "Alan Turing", "@complete"),
];
pub const PRODUCTS: [(&str, &str, i32, i32); 3] = [
    ("1", "Table", 899, 100),
    ("2", "Couch", 1299, 1000),
    ("3", "Chair", 54, 50),
];
pub const REVIEWS: [(&str, &str, &str, &str); 4] = [
    ("1", "Love it!", "1", "1"),
    ("2", "Too expensive.", "2", "1"),
    ("3", "Could be better.", "3", "2"),
    ("4", "Prefer something else.", "1", "2"),
];

// ---- accounts ---------------------------------------------------------------------------

#[derive(SimpleObject)]
struct User {
    id: ID,
    name: Option<String>,
    username: Option<String>,
}

fn user(id: &str) -> Option<User> {
    USERS.iter().find(|u| u.0 == id).map(|u| User {
        id: ID(u.0.into()),
        name: Some(u.1.into()),
        username: Some(u.2.into()),
    })
}

struct AccountsQuery;

#[Object]
impl AccountsQuery {
    async fn me(&self) -> Option<User> {
        user("1")
    }

    async fn user(&self, id: ID) -> Option<User> {
        user(&id)
    }

    #[graphql(entity)]
    async fn find_user_by_id(&self, id: ID) -> Option<User> {
        user(&id)
    }
}

pub async fn accounts() -> TestSubgraph {
    spawn_schema(
        Schema::build(AccountsQuery, EmptyMutation, EmptySubscription)
            .enable_federation()
            .finish(),
    )
    .await
}

// ---- products ---------------------------------------------------------------------------

#[derive(SimpleObject)]
struct Product {
    upc: String,
    name: Option<String>,
    price: Option<i32>,
    weight: Option<i32>,
}

fn product(upc: &str) -> Option<Product> {
    PRODUCTS.iter().find(|p| p.0 == upc).map(|p| Product {
        upc: p.0.into(),
        name: Some(p.1.into()),
        price: Some(p.2),
        weight: Some(p.3),
    })
}

struct ProductsQuery;

#[Object]
impl ProductsQuery {
    async fn top_products(&self, #[graphql(default = 5)] first: i32) -> Vec<Product> {
        PRODUCTS
            .iter()
            .take(first as usize)
            .filter_map(|p| product(p.0))
            .collect()
    }

    #[graphql(entity)]
    async fn find_product_by_upc(&self, upc: String) -> Option<Product> {
        product(&upc)
    }
}

pub async fn products() -> TestSubgraph {
    spawn_schema(
        Schema::build(ProductsQuery, EmptyMutation, EmptySubscription)
            .enable_federation()
            .finish(),
    )
    .await
}

// ---- inventory --------------------------------------------------------------------------

#[derive(SimpleObject)]
#[graphql(complex, name = "Product")]
struct InventoryProduct {
    upc: String,
    #[graphql(skip)]
    price: Option<i32>,
    #[graphql(skip)]
    weight: Option<i32>,
}

#[ComplexObject]
impl InventoryProduct {
    async fn in_stock(&self) -> Option<bool> {
        Some(self.upc != "2")
    }

    #[graphql(requires = "price weight")]
    async fn shipping_estimate(&self) -> Option<i32> {
        let (price, weight) = (self.price?, self.weight?);
        Some(if price > 1000 { 0 } else { weight / 2 })
    }
}

struct InventoryQuery;

#[Object]
impl InventoryQuery {
    /// Representations carrying the `@requires` fields of `shippingEstimate`.
    #[graphql(entity)]
    async fn find_product_by_upc_and_price_and_weight(
        &self,
        upc: String,
        price: i32,
        weight: i32,
    ) -> InventoryProduct {
        InventoryProduct {
            upc,
            price: Some(price),
            weight: Some(weight),
        }
    }

    #[graphql(entity)]
    async fn find_product_by_upc(&self, upc: String) -> InventoryProduct {
        InventoryProduct {
            upc,
            price: None,
            weight: None,
        }
    }
}

pub async fn inventory() -> TestSubgraph {
    spawn_schema(
        Schema::build(InventoryQuery, EmptyMutation, EmptySubscription)
            .enable_federation()
            .finish(),
    )
    .await
}

// ---- reviews ----------------------------------------------------------------------------

#[derive(SimpleObject)]
#[graphql(complex)]
struct Review {
    id: ID,
    body: Option<String>,
    #[graphql(skip)]
    product_upc: String,
    #[graphql(skip)]
    author_id: String,
}

#[derive(SimpleObject)]
#[graphql(complex, name = "User")]
struct ReviewsUser {
    id: ID,
    /// External in the real schema; only set where `Review.author` provides it.
    username: Option<String>,
}

#[derive(SimpleObject)]
#[graphql(complex, name = "Product")]
struct ReviewsProduct {
    upc: String,
}

fn reviews_where(pred: impl Fn(&(&str, &str, &str, &str)) -> bool) -> Vec<Review> {
    REVIEWS
        .iter()
        .filter(|r| pred(r))
        .map(|r| Review {
            id: ID(r.0.into()),
            body: Some(r.1.into()),
            product_upc: r.2.into(),
            author_id: r.3.into(),
        })
        .collect()
}

#[ComplexObject]
impl Review {
    /// Provides `username`: the reviews service knows it.
    async fn author(&self) -> Option<ReviewsUser> {
        USERS
            .iter()
            .find(|u| u.0 == self.author_id)
            .map(|u| ReviewsUser {
                id: ID(u.0.into()),
                username: Some(u.2.into()),
            })
    }

    /// The other user, so author and editor paths share entities.
    async fn editor(&self) -> Option<ReviewsUser> {
        let other = if self.author_id == "1" { "2" } else { "1" };
        Some(ReviewsUser {
            id: ID(other.into()),
            username: None,
        })
    }

    async fn product(&self) -> Option<ReviewsProduct> {
        Some(ReviewsProduct {
            upc: self.product_upc.clone(),
        })
    }
}

#[ComplexObject]
impl ReviewsUser {
    async fn reviews(&self) -> Vec<Review> {
        reviews_where(|r| r.3 == self.id.as_str())
    }
}

#[ComplexObject]
impl ReviewsProduct {
    async fn reviews(&self) -> Vec<Review> {
        reviews_where(|r| r.2 == self.upc)
    }
}

struct ReviewsQuery;

#[Object]
impl ReviewsQuery {
    #[graphql(entity)]
    async fn find_user_by_id(&self, id: ID) -> ReviewsUser {
        ReviewsUser { id, username: None }
    }

    #[graphql(entity)]
    async fn find_product_by_upc(&self, upc: String) -> ReviewsProduct {
        ReviewsProduct { upc }
    }
}

pub async fn reviews() -> TestSubgraph {
    spawn_schema(
        Schema::build(ReviewsQuery, EmptyMutation, EmptySubscription)
            .enable_federation()
            .finish(),
    )
    .await
}

// ---- @context / @fromContext (fixtures/context.graphql) --------------------------------

/// `(id, name, locale)` in the context accounts subgraph.
pub const CONTEXT_USERS: [(&str, &str, &str); 2] = [("1", "Ada", "en"), ("2", "Alan", "fr")];

#[derive(SimpleObject)]
#[graphql(name = "User")]
struct ContextUser {
    id: ID,
    name: String,
    locale: String,
}

fn context_user(id: &str) -> Option<ContextUser> {
    CONTEXT_USERS
        .iter()
        .find(|u| u.0 == id)
        .map(|u| ContextUser {
            id: ID(u.0.into()),
            name: u.1.into(),
            locale: u.2.into(),
        })
}

struct ContextAccountsQuery;

#[Object]
impl ContextAccountsQuery {
    async fn me(&self) -> Option<ContextUser> {
        context_user("1")
    }

    async fn users(&self) -> Vec<ContextUser> {
        CONTEXT_USERS
            .iter()
            .filter_map(|u| context_user(u.0))
            .collect()
    }

    #[graphql(entity)]
    async fn find_user_by_id(&self, id: ID) -> Option<ContextUser> {
        context_user(&id)
    }
}

pub async fn context_accounts() -> TestSubgraph {
    spawn_schema(
        Schema::build(ContextAccountsQuery, EmptyMutation, EmptySubscription)
            .enable_federation()
            .finish(),
    )
    .await
}

#[derive(SimpleObject)]
#[graphql(complex, name = "Post")]
struct ContextPost {
    id: ID,
    likes: i32,
}

#[ComplexObject]
impl ContextPost {
    /// Greets in the owner's language: the `@fromContext` argument made visible.
    async fn title(&self, locale: Option<String>) -> String {
        let greeting = match locale.as_deref() {
            Some("en") => "Hello",
            Some("fr") => "Bonjour",
            Some("de") => "Hallo",
            Some(_) => "?",
            None => "(no locale)",
        };
        format!("{greeting} {}", self.id.as_str())
    }
}

fn context_posts_of(ids: &[&str]) -> Vec<ContextPost> {
    ids.iter()
        .map(|id| ContextPost {
            id: ID((*id).into()),
            likes: id.len() as i32,
        })
        .collect()
}

#[derive(SimpleObject)]
#[graphql(complex, name = "User")]
struct ContextPostsUser {
    id: ID,
}

#[ComplexObject]
impl ContextPostsUser {
    /// `p1` is written by both users, so one post appears under two contexts.
    async fn posts(&self) -> Vec<ContextPost> {
        match self.id.as_str() {
            "1" => context_posts_of(&["p1", "p2"]),
            "2" => context_posts_of(&["p1", "p3"]),
            _ => Vec::new(),
        }
    }
}

#[derive(SimpleObject)]
#[graphql(name = "Team")]
struct ContextTeam {
    id: ID,
    language: Option<String>,
    posts: Vec<ContextPost>,
}

fn context_team(id: &str) -> Option<ContextTeam> {
    let (language, posts) = match id {
        "t1" => (Some("de"), vec!["p2"]),
        "t2" => (None, vec!["p3"]),
        _ => return None,
    };
    Some(ContextTeam {
        id: ID(id.into()),
        language: language.map(Into::into),
        posts: context_posts_of(&posts),
    })
}

struct ContextPostsQuery;

#[Object]
impl ContextPostsQuery {
    async fn teams(&self) -> Vec<ContextTeam> {
        ["t1", "t2"]
            .iter()
            .filter_map(|t| context_team(t))
            .collect()
    }

    #[graphql(entity)]
    async fn find_posts_user_by_id(&self, id: ID) -> ContextPostsUser {
        ContextPostsUser { id }
    }

    #[graphql(entity)]
    async fn find_team_by_id(&self, id: ID) -> Option<ContextTeam> {
        context_team(&id)
    }

    #[graphql(entity)]
    async fn find_post_by_id(&self, id: ID) -> ContextPost {
        context_posts_of(&[id.as_str()]).remove(0)
    }
}

pub async fn context_posts() -> TestSubgraph {
    spawn_schema(
        Schema::build(ContextPostsQuery, EmptyMutation, EmptySubscription)
            .enable_federation()
            .finish(),
    )
    .await
}
