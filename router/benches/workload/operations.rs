//! The operations the bench sends: the public benchmark's deep `TestQuery`, a large variant
//! (the same selections repeated under aliases), and a family of distinct small operations
//! for the plan cache.

const FRAGMENTS: &str = "fragment User on User { id username name }
fragment Review on Review { id body }
fragment Product on Product { inStock name price shippingEstimate upc weight }";

/// `users` five levels deep: user → reviews → product → reviews → author → reviews → product.
const USERS_TREE: &str = "{ ...User reviews { ...Review product { ...Product reviews { \
    ...Review author { ...User reviews { ...Review product { ...Product } } } } } } }";

/// `topProducts` four levels deep: product → reviews → author → reviews → product.
const TOP_PRODUCTS_TREE: &str = "{ ...Product reviews { ...Review author { ...User reviews { \
    ...Review product { ...Product } } } } }";

/// The public benchmark's query: about 88 KiB of response from 4 subgraphs.
pub fn test_query() -> String {
    format!("{FRAGMENTS}\nquery TestQuery {{ users {USERS_TREE} topProducts {TOP_PRODUCTS_TREE} }}")
}

/// `TestQuery`'s two root selections `copies` times under distinct aliases: a response of
/// `copies` times TestQuery's size from one operation.
pub fn large_query(copies: usize) -> String {
    let roots: String = (0..copies)
        .map(|i| format!("u{i}: users {USERS_TREE} p{i}: topProducts {TOP_PRODUCTS_TREE} "))
        .collect();
    format!("{FRAGMENTS}\nquery Large {{ {roots}}}")
}

const PRODUCT_FIELDS: [&str; 6] = [
    "upc",
    "name",
    "price",
    "weight",
    "inStock",
    "shippingEstimate",
];
const USER_FIELDS: [&str; 4] = ["id", "username", "name", "birthday"];

/// Distinct operation number `n` (`n` < 1024 gives distinct selections): the bits of `n` pick
/// which product and author fields are selected, so each needs its own plan and touches a
/// different set of subgraphs (inventory only for stock or shipping, accounts only for
/// `name` or `birthday` of an author).
pub fn distinct_operation(n: usize) -> String {
    let pick = |fields: &[&str], bits: usize| -> String {
        let chosen: Vec<&str> = fields
            .iter()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .map(|(_, f)| *f)
            .collect();
        if chosen.is_empty() {
            "__typename".to_owned()
        } else {
            chosen.join(" ")
        }
    };
    let product = pick(&PRODUCT_FIELDS, n & 0b11_1111);
    let author = pick(&USER_FIELDS, (n >> 6) & 0b1111);
    format!(
        "query Op{n} {{ topProducts(first: {first}) {{ {product} reviews {{ id author {{ {author} }} }} }} }}",
        first = 3 + n % 5
    )
}
