//! The four bench subgraphs in async-graphql, with the schema shapes of the public gateway
//! benchmark: accounts (users), products (top products), inventory (stock and shipping,
//! `@requires(fields: "price weight")`) and reviews (`Review.author @provides(fields:
//! "username")`). Resolvers borrow the static rows of [`super::data`]. Comments on resolvers
//! are `//`, not `///`, since async-graphql would publish doc comments in the SDL.

use super::data::{self, ProductRow, ReviewRow, UserRow};
use async_graphql::{Object, ID};

fn some_all<T>(items: impl Iterator<Item = T>) -> Option<Vec<Option<T>>> {
    Some(items.map(Some).collect())
}

// ---- accounts ---------------------------------------------------------------------------

pub struct AccountsUser(&'static UserRow);

#[Object(name = "User")]
impl AccountsUser {
    async fn id(&self) -> ID {
        ID::from(self.0.id)
    }

    async fn name(&self) -> Option<&str> {
        Some(self.0.name)
    }

    async fn username(&self) -> Option<&str> {
        Some(self.0.username)
    }

    async fn birthday(&self) -> Option<i32> {
        Some(self.0.birthday)
    }
}

pub struct AccountsQuery;

#[Object(name = "Query")]
impl AccountsQuery {
    async fn me(&self) -> Option<AccountsUser> {
        data::USERS.first().map(AccountsUser)
    }

    async fn user(&self, id: ID) -> Option<AccountsUser> {
        data::user_row(&id).map(AccountsUser)
    }

    async fn users(&self) -> Option<Vec<Option<AccountsUser>>> {
        some_all(data::USERS.iter().map(AccountsUser))
    }

    #[graphql(entity)]
    async fn find_user_by_id(&self, id: ID) -> Option<AccountsUser> {
        data::user_row(&id).map(AccountsUser)
    }
}

// ---- products ---------------------------------------------------------------------------

pub struct CatalogProduct(&'static ProductRow);

#[Object(name = "Product")]
impl CatalogProduct {
    async fn upc(&self) -> &str {
        self.0.upc
    }

    async fn name(&self) -> Option<&str> {
        Some(self.0.name)
    }

    async fn price(&self) -> Option<i32> {
        Some(self.0.price)
    }

    async fn weight(&self) -> Option<i32> {
        Some(self.0.weight)
    }
}

pub struct ProductsQuery;

#[Object(name = "Query")]
impl ProductsQuery {
    async fn top_products(
        &self,
        #[graphql(default = 5)] first: Option<i32>,
    ) -> Option<Vec<Option<CatalogProduct>>> {
        let first = usize::try_from(first.unwrap_or(5)).unwrap_or(0);
        some_all(data::PRODUCTS.iter().take(first).map(CatalogProduct))
    }

    #[graphql(entity)]
    async fn find_product_by_upc(&self, upc: String) -> Option<CatalogProduct> {
        data::product_row(&upc).map(CatalogProduct)
    }
}

// ---- inventory --------------------------------------------------------------------------

/// A product as inventory sees it: its key plus the `@requires` fields the router sent.
pub struct StockedProduct {
    upc: String,
    price: Option<i32>,
    weight: Option<i32>,
}

#[Object(name = "Product")]
impl StockedProduct {
    async fn upc(&self) -> &str {
        &self.upc
    }

    #[graphql(external)]
    async fn price(&self) -> Option<i32> {
        self.price
    }

    #[graphql(external)]
    async fn weight(&self) -> Option<i32> {
        self.weight
    }

    async fn in_stock(&self) -> Option<bool> {
        data::product_row(&self.upc).map(|p| p.in_stock)
    }

    // Free above 1000, else half the weight.
    #[graphql(requires = "price weight")]
    async fn shipping_estimate(&self) -> Option<i32> {
        let price = self.price?;
        if price > 1000 {
            Some(0)
        } else {
            self.weight.map(|w| w / 2)
        }
    }
}

pub struct InventoryQuery;

#[Object(name = "Query")]
impl InventoryQuery {
    // Keyed by `upc`; `price` and `weight` arrive only when `shippingEstimate` is asked.
    #[graphql(entity)]
    async fn find_product_by_upc(
        &self,
        #[graphql(key)] upc: String,
        price: Option<i32>,
        weight: Option<i32>,
    ) -> StockedProduct {
        StockedProduct { upc, price, weight }
    }
}

// ---- reviews ----------------------------------------------------------------------------

pub struct Review(&'static ReviewRow);

#[Object(name = "Review")]
impl Review {
    async fn id(&self) -> ID {
        ID::from(self.0.id.as_str())
    }

    async fn body(&self) -> Option<&str> {
        Some(&self.0.body)
    }

    async fn product(&self) -> Option<ReviewedProduct> {
        Some(ReviewedProduct(self.0.product_upc.to_owned()))
    }

    // The reviews subgraph knows its authors' usernames, so it provides them.
    #[graphql(provides = "username")]
    async fn author(&self) -> Option<Reviewer> {
        data::user_row(self.0.author_id).map(|u| Reviewer {
            id: u.id.to_owned(),
            username: Some(u.username),
        })
    }
}

/// A user as reviews sees it; `username` is set only where `Review.author` provides it.
pub struct Reviewer {
    id: String,
    username: Option<&'static str>,
}

#[Object(name = "User")]
impl Reviewer {
    async fn id(&self) -> ID {
        ID::from(self.id.as_str())
    }

    #[graphql(external)]
    async fn username(&self) -> Option<&str> {
        self.username
    }

    async fn reviews(&self) -> Option<Vec<Option<Review>>> {
        some_all(data::reviews_of_user().iter().map(Review))
    }
}

pub struct ReviewedProduct(String);

#[Object(name = "Product")]
impl ReviewedProduct {
    async fn upc(&self) -> &str {
        &self.0
    }

    async fn reviews(&self) -> Option<Vec<Option<Review>>> {
        some_all(data::reviews_of_product(&self.0).map(Review))
    }
}

pub struct ReviewsQuery;

#[Object(name = "Query")]
impl ReviewsQuery {
    #[graphql(entity)]
    async fn find_review_by_id(&self, id: ID) -> Option<Review> {
        data::REVIEWS
            .iter()
            .find(|r| r.id == id.as_str())
            .map(Review)
    }

    #[graphql(entity)]
    async fn find_user_by_id(&self, id: ID) -> Reviewer {
        Reviewer {
            id: id.0,
            username: None,
        }
    }

    #[graphql(entity)]
    async fn find_product_by_upc(&self, upc: String) -> ReviewedProduct {
        ReviewedProduct(upc)
    }
}
