//! @override(from:) and progressive @override(label: "percent(N)").

mod common;
use common::{plan, plan_labels, supergraph};

#[test]
fn overridden_field_is_resolved_by_the_new_owner() {
    insta::assert_snapshot!(plan("override", "{ products { name currency sku } }"), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "products") {
              query { products { name __typename id } }
            },
            Flatten(path: "products.@") {
              Fetch(service: "pricing") {
                { ... on Product { __typename id } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { currency sku } } }
              },
            },
          },
        }
    "#);
}

#[test]
fn progressive_override_disabled_keeps_the_original_subgraph() {
    insta::assert_snapshot!(plan_labels("override", "{ products { name price } }", &[]), @r#"
        QueryPlan {
          Fetch(service: "products") {
            query { products { name price } }
          },
        }
    "#);
}

#[test]
fn progressive_override_enabled_moves_the_field() {
    insta::assert_snapshot!(plan_labels("override", "{ products { name price } }", &["percent(25)"]), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "products") {
              query { products { name __typename id } }
            },
            Flatten(path: "products.@") {
              Fetch(service: "pricing") {
                { ... on Product { __typename id } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { price } } }
              },
            },
          },
        }
    "#);
}

#[test]
fn percent_labels_are_rolled_per_request() {
    let sg = supergraph("override");
    assert_eq!(sg.override_labels, ["percent(25)", "beta-stock"]);
    let enabled = (0..2000)
        .filter(|_| !router::pipeline::roll_override_labels(&sg, &[]).is_empty())
        .count();
    // 25% of 2000 = 500; the bounds are more than 7 standard deviations wide.
    assert!((350..650).contains(&enabled), "{enabled} of 2000 enabled");
}

#[test]
fn configured_labels_are_always_enabled_and_percent_labels_still_rolled() {
    let sg = supergraph("override");
    let configured = ["beta-stock".to_owned(), "not-in-this-supergraph".to_owned()];
    let rolls: Vec<Vec<String>> = (0..400)
        .map(|_| router::pipeline::roll_override_labels(&sg, &configured))
        .collect();
    assert!(rolls.iter().all(|r| r.contains(&"beta-stock".to_owned())));
    // Only the supergraph's own labels are reported.
    assert!(rolls
        .iter()
        .flatten()
        .all(|l| sg.override_labels.contains(l)));
    let with_percent = rolls.iter().filter(|r| r.len() == 2).count();
    assert!((40..180).contains(&with_percent), "{with_percent} of 400");
}

#[test]
fn a_feature_flag_label_moves_the_field_only_when_enabled() {
    let query = "{ products { name stock } }";
    insta::assert_snapshot!(plan_labels("override", query, &[]), @r#"
        QueryPlan {
          Fetch(service: "products") {
            query { products { name stock } }
          },
        }
    "#);
    insta::assert_snapshot!(plan_labels("override", query, &["beta-stock"]), @r#"
        QueryPlan {
          Sequence {
            Fetch(service: "products") {
              query { products { name __typename id } }
            },
            Flatten(path: "products.@") {
              Fetch(service: "pricing") {
                { ... on Product { __typename id } } =>
                query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { stock } } }
              },
            },
          },
        }
    "#);
}

#[test]
fn the_plan_cache_keeps_one_plan_per_label_state() {
    use router::pipeline::{prepare_with, Caches};
    let sg = supergraph("override");
    let caches = Caches::new(16);
    let query = "{ products { stock } }";
    let off = |caches: &Caches| {
        let (prepared, _) =
            prepare_with(&sg, caches, query, None, Default::default(), &[]).unwrap();
        prepared.plan.to_string()
    };
    let on = |caches: &Caches| {
        let labels = ["beta-stock".to_owned()];
        let (prepared, _) =
            prepare_with(&sg, caches, query, None, Default::default(), &labels).unwrap();
        prepared.plan.to_string()
    };
    // Alternating requests share one cache: a key without the label state would hand one
    // state's plan to the other.
    for _ in 0..20 {
        let plan = off(&caches);
        assert!(!plan.contains("pricing"), "{plan}");
        let plan = on(&caches);
        assert!(plan.contains("Fetch(service: \"pricing\")"), "{plan}");
    }
}
