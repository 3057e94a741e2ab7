//! The deployment files agree with the code: docker-compose parses, every service built from
//! our image runs a binary the image contains, and every variable it sets is a known config key.

use std::collections::BTreeMap;
use std::path::Path;

use kit::config::ServiceConfig;
use yaml_rust2::{Yaml, YamlLoader};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn compose() -> Yaml {
    let text = std::fs::read_to_string(root().join("docker-compose.yml")).expect("read compose");
    YamlLoader::load_from_str(&text)
        .expect("docker-compose.yml is valid YAML")
        .remove(0)
}

/// Binaries the Dockerfile copies into the runtime image.
fn image_binaries() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("Dockerfile")).expect("read Dockerfile");
    text.split_whitespace()
        .filter_map(|word| word.strip_prefix("/src/target/release/"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn compose_services_run_binaries_of_the_image_with_known_settings() {
    let compose = compose();
    let services = compose["services"].as_hash().expect("services");
    let binaries = image_binaries();
    let mut built = 0;
    for (name, service) in services {
        let name = name.as_str().expect("service name");
        if service["build"].is_badvalue() {
            assert!(
                service["image"].as_str().is_some(),
                "{name}: neither build nor image"
            );
            continue;
        }
        built += 1;
        let binary = service["command"][0].as_str().expect("command");
        assert!(
            binaries.iter().any(|b| b == binary),
            "{name}: {binary} is not in the image ({binaries:?})"
        );
        let manifest = root().join("subgraphs").join(binary).join("src/main.rs");
        assert!(
            manifest.exists(),
            "{name}: no binary crate at {}",
            manifest.display()
        );
        let env: BTreeMap<String, String> = service["environment"]
            .as_hash()
            .expect("environment")
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().expect("key").to_owned(),
                    v.as_str().expect("string value").to_owned(),
                )
            })
            .collect();
        let prefix = format!("{}_", binary.to_uppercase());
        let config: ServiceConfig = kit::config::load(
            None,
            &prefix,
            ServiceConfig::ENV_ALIASES,
            &env,
            Default::default(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            config.mongodb_url.is_some() && config.redis_url.is_some(),
            "{name}: compose runs on the real services"
        );
        for dependency in ["mongo", "redis"] {
            assert!(
                !service["depends_on"][dependency].is_badvalue(),
                "{name}: must wait for {dependency}"
            );
        }
    }
    assert!(built > 0, "no service built from the workspace image");
}
