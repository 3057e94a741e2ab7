//! The rows the four bench subgraphs serve, sized like the public gateway benchmark's.
//!
//! The relationships are the public benchmark's fixed shape, not a realistic data set: every
//! review is written by user 1, and every user's `reviews` are the first two reviews. That
//! shape (6 users, 9 products, 11 reviews whose bodies run 143 to 844 characters) is what
//! makes `TestQuery` answer about 88 KiB, so our figures line up with the published ones.

use std::sync::LazyLock;

pub struct UserRow {
    pub id: &'static str,
    pub name: &'static str,
    pub username: &'static str,
    pub birthday: i32,
}

pub static USERS: [UserRow; 6] = [
    user("1", "Ada Lovelace", "ada"),
    user("2", "Alan Turing", "alanturing"),
    user("3", "Grace Hopper", "gracehopper"),
    user("4", "Edsger Dijkstra", "edsger"),
    user("5", "Barbara Liskov", "liskov"),
    user("6", "Donald Knuth", "knuth"),
];

const fn user(id: &'static str, name: &'static str, username: &'static str) -> UserRow {
    UserRow {
        id,
        name,
        username,
        birthday: 1_234_567_890,
    }
}

pub struct ProductRow {
    pub upc: &'static str,
    pub name: &'static str,
    pub price: i32,
    pub weight: i32,
    /// Only the inventory subgraph serves this.
    pub in_stock: bool,
}

pub static PRODUCTS: [ProductRow; 9] = [
    product("1", "Desk", 899, 100, true),
    product("2", "Bench", 1299, 1000, false),
    product("3", "Mug", 15, 20, false),
    product("4", "Stool", 499, 100, false),
    product("5", "Radio", 1299, 1000, true),
    product("6", "Light", 6999, 300, true),
    product("7", "Stove", 3999, 2000, true),
    product("8", "Freezer", 100_000, 6000, false),
    product("9", "Divan", 9999, 800, true),
];

const fn product(
    upc: &'static str,
    name: &'static str,
    price: i32,
    weight: i32,
    in_stock: bool,
) -> ProductRow {
    ProductRow {
        upc,
        name,
        price,
        weight,
        in_stock,
    }
}

pub fn product_row(upc: &str) -> Option<&'static ProductRow> {
    PRODUCTS.iter().find(|p| p.upc == upc)
}

pub fn user_row(id: &str) -> Option<&'static UserRow> {
    USERS.iter().find(|u| u.id == id)
}

pub struct ReviewRow {
    pub id: String,
    pub body: String,
    pub product_upc: &'static str,
    pub author_id: &'static str,
}

/// `(product upc, body length)` of each review, in id order.
const REVIEW_SHAPES: [(&str, usize); 11] = [
    ("1", 445),
    ("1", 289),
    ("1", 275),
    ("1", 143),
    ("2", 445),
    ("2", 289),
    ("2", 275),
    ("2", 143),
    ("3", 143),
    ("4", 143),
    ("4", 844),
];

pub static REVIEWS: LazyLock<Vec<ReviewRow>> = LazyLock::new(|| {
    REVIEW_SHAPES
        .iter()
        .enumerate()
        .map(|(i, (upc, len))| ReviewRow {
            id: (i + 1).to_string(),
            body: filler(i, *len),
            product_upc: upc,
            author_id: "1",
        })
        .collect()
});

/// The reviews the reviews subgraph lists under any user (see the module doc).
pub fn reviews_of_user() -> &'static [ReviewRow] {
    &REVIEWS[..2]
}

pub fn reviews_of_product(upc: &str) -> impl Iterator<Item = &'static ReviewRow> + '_ {
    REVIEWS.iter().filter(move |r| r.product_upc == upc)
}

const WORDS: [&str; 16] = [
    "sturdy",
    "arrived",
    "quickly",
    "and",
    "works",
    "as",
    "described",
    "though",
    "the",
    "finish",
    "could",
    "be",
    "better",
    "for",
    "its",
    "price",
];

/// Deterministic prose of exactly `len` ASCII characters, different per `seed`.
fn filler(seed: usize, len: usize) -> String {
    let mut text = String::with_capacity(len + 16);
    let mut i = seed;
    while text.len() < len {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(WORDS[i % WORDS.len()]);
        i = (i * 7 + 3) % 101;
    }
    text.truncate(len);
    text
}
