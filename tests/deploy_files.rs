//! The deployment files agree with the code: every service of docker-compose.yml and every
//! container of deploy/k8s runs a binary the image contains, every variable it sets is a key
//! of that binary's configuration, health checks and probes ask paths the binary serves on the
//! port it listens on, the routers' subgraph URLs name services that exist, and the NGINX
//! template renders with exactly the variables compose and Kubernetes give it. Prometheus
//! scrapes every service that serves /metrics, in compose and Kubernetes, and the Grafana
//! dashboard compose provisions queries its data source and only metrics the code exports.

#[path = "common/dashboard.rs"]
mod dashboard;
#[path = "deploy_files/observability.rs"]
mod observability;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use kit::config::ServiceConfig;
use yaml_rust2::{yaml::Hash, Yaml, YamlLoader};

const SUBGRAPHS: [&str; 4] = ["accounts", "boards", "chat", "notifications"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every YAML document of a file, with `<<` merge keys applied (compose uses them).
fn yaml_documents(path: &str) -> Vec<Yaml> {
    YamlLoader::load_from_str(&read(path))
        .unwrap_or_else(|e| panic!("{path} is not valid YAML: {e}"))
        .into_iter()
        .map(merge_keys)
        .collect()
}

fn merge_keys(yaml: Yaml) -> Yaml {
    match yaml {
        Yaml::Hash(hash) => {
            let mut out = Hash::new();
            let merge = Yaml::String("<<".into());
            if let Some(Yaml::Hash(base)) = hash.get(&merge).cloned().map(merge_keys) {
                out.extend(base);
            }
            for (k, v) in hash {
                if k != merge {
                    out.insert(k, merge_keys(v));
                }
            }
            Yaml::Hash(out)
        }
        Yaml::Array(items) => Yaml::Array(items.into_iter().map(merge_keys).collect()),
        other => other,
    }
}

fn strings(yaml: &Yaml) -> Vec<String> {
    yaml.as_vec()
        .map(|v| {
            v.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Binaries the Dockerfile copies into the runtime image.
fn image_binaries() -> Vec<String> {
    read("Dockerfile")
        .split_whitespace()
        .filter_map(|word| word.strip_prefix("/src/target/release/"))
        .map(str::to_owned)
        .collect()
}

/// The variables the Dockerfile's `edge` stage sets (`ENV A=1 B=2 \ ...`).
fn edge_image_env() -> BTreeMap<String, String> {
    let text = read("Dockerfile");
    let stage = text
        .split("\nFROM ")
        .find(|stage| stage.contains(" AS edge"))
        .expect("the Dockerfile has an `edge` stage");
    let env = stage
        .split("\nENV ")
        .nth(1)
        .expect("the edge stage sets ENV");
    let mut vars = BTreeMap::new();
    for line in env.lines() {
        for pair in line.trim_end_matches('\\').split_whitespace() {
            if let Some((k, v)) = pair.split_once('=') {
                vars.insert(k.to_owned(), v.to_owned());
            }
        }
        if !line.ends_with('\\') {
            break;
        }
    }
    vars
}

/// Paths routed by `.route("...")` in a source file: what a binary actually serves.
fn routes(path: &str) -> BTreeSet<String> {
    read(path)
        .split(".route(\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next().map(str::to_owned))
        .collect()
}

/// `${NAME}` placeholders of the NGINX template (comment lines excepted, as render.sh does).
fn template_placeholders() -> BTreeSet<String> {
    read("nginx/nginx.conf.template")
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .flat_map(|line| line.split("${").skip(1))
        .filter_map(|rest| rest.split('}').next().map(str::to_owned))
        .collect()
}

/// Renders the shipped template with `env` through the shipped renderer.
fn render_nginx(env: &BTreeMap<String, String>) -> Result<String, String> {
    let output = Command::new("sh")
        .arg(root().join("nginx/render.sh"))
        .arg(root().join("nginx/nginx.conf.template"))
        .env_clear()
        .envs(env)
        .output()
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// One container of a deployment file: what runs, with which variables, probed where.
struct Container {
    what: String,
    command: Vec<String>,
    env: BTreeMap<String, String>,
    /// `(path, port)` of every HTTP health check or probe.
    probes: Vec<(String, u16)>,
    /// The local file behind `router serve --config <path>`.
    router_config: Option<PathBuf>,
}

/// A router's subgraph URL: `(host, port, path)`.
type Url = (String, u16, String);

fn parse_url(url: &str) -> Url {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (host, port) = authority.split_once(':').expect("URL with a port");
    (host.into(), port.parse().expect("port"), path.into())
}

/// Checks a container against the code; returns the subgraph URLs when it is a router.
fn check_container(c: &Container) -> Vec<Url> {
    let what = &c.what;
    let binary = c
        .command
        .first()
        .unwrap_or_else(|| panic!("{what}: no command"));
    assert!(
        image_binaries().contains(binary),
        "{what}: {binary} is not in the image ({:?})",
        image_binaries()
    );
    if binary == "router" {
        return check_router(c);
    }
    assert!(
        SUBGRAPHS.contains(&binary.as_str()) && c.command.len() == 1,
        "{what}: runs {:?}, not a subgraph binary",
        c.command
    );
    assert!(root()
        .join("subgraphs")
        .join(binary)
        .join("src/main.rs")
        .exists());
    let prefix = format!("{}_", binary.to_uppercase());
    let config: ServiceConfig = kit::config::load(
        None,
        &prefix,
        ServiceConfig::ENV_ALIASES,
        &c.env,
        Default::default(),
    )
    .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        config.mongodb_url.is_some() && config.redis_url.is_some(),
        "{what}: deployments run on the real services"
    );
    check_probes(
        c,
        &routes("subgraphs/kit/src/server.rs"),
        config.listen.port(),
    );
    Vec::new()
}

/// Every health check of `c` asks a path the binary serves, on the port it listens on.
fn check_probes(c: &Container, served: &BTreeSet<String>, port: u16) {
    let what = &c.what;
    assert!(!c.probes.is_empty(), "{what}: no health check");
    for (path, probed) in &c.probes {
        assert!(
            served.contains(path),
            "{what}: probes {path}, served: {served:?}"
        );
        assert_eq!(*probed, port, "{what}: probes a port it does not listen on");
    }
}

fn check_router(c: &Container) -> Vec<Url> {
    let what = &c.what;
    assert_eq!(c.command[..3], ["router", "serve", "--config"], "{what}");
    let file = c
        .router_config
        .as_deref()
        .expect("the router's config file");
    let config = router::config::load(Some(file), &c.env, Default::default())
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(config.jwt.is_some(), "{what}: verifies tokens at the edge");
    assert!(
        config.rate_limit.redis_url.is_some() && !config.rate_limit.trusted_proxies.is_empty(),
        "{what}: replicas share rate limits in Redis and believe the proxy's X-Forwarded-For"
    );
    let names: BTreeSet<&str> = config.subgraphs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        SUBGRAPHS.into_iter().collect(),
        "{what}: composes every subgraph"
    );
    check_probes(c, &routes("router/src/http/mod.rs"), config.listen.port());
    config.subgraphs.iter().map(|s| parse_url(&s.url)).collect()
}

/// Checks the NGINX variables of a deployment: exactly the template's placeholders (with the
/// image's defaults), and the template renders with them.
fn check_nginx_env(what: &str, env: &BTreeMap<String, String>) -> String {
    let mut all = edge_image_env();
    all.extend(env.clone());
    let placeholders = template_placeholders();
    let given: BTreeSet<String> = all.keys().cloned().collect();
    assert_eq!(
        given, placeholders,
        "{what}: variables vs the template's placeholders"
    );
    render_nginx(&all).unwrap_or_else(|e| panic!("{what}: the template does not render: {e}"))
}

fn compose_health(what: &str, service: &Yaml) -> Vec<(String, u16)> {
    let test = strings(&service["healthcheck"]["test"]);
    let url = test
        .last()
        .unwrap_or_else(|| panic!("{what}: no health check"));
    let (host, port, path) = parse_url(url);
    assert_eq!(host, "127.0.0.1", "{what}: checks itself");
    vec![(path, port)]
}

#[test]
fn compose_services_run_binaries_of_the_image_with_known_settings() {
    let compose = yaml_documents("docker-compose.yml").remove(0);
    let services = compose["services"].as_hash().expect("services");
    let names: BTreeSet<&str> = services.keys().filter_map(Yaml::as_str).collect();
    let mut listen: BTreeMap<String, u16> = BTreeMap::new();
    let mut router_urls = Vec::new();
    let mut nginx_env = None;
    for (name, service) in services {
        let name = name.as_str().expect("service name");
        if let Some(deps) = service["depends_on"].as_hash() {
            for dep in deps.keys().filter_map(Yaml::as_str) {
                assert!(
                    names.contains(dep),
                    "{name}: depends on unknown service {dep}"
                );
            }
        }
        let env: BTreeMap<String, String> = service["environment"]
            .as_hash()
            .map(|h| {
                h.iter()
                    .map(|(k, v)| {
                        let k = k.as_str().expect("key").to_owned();
                        (k, v.as_str().expect("string value").to_owned())
                    })
                    .collect()
            })
            .unwrap_or_default();
        if service["build"]["target"].as_str() == Some("edge") {
            nginx_env = Some((name.to_owned(), env, service.clone()));
            continue;
        }
        if service["build"].is_badvalue() {
            assert!(
                service["image"].as_str().is_some(),
                "{name}: neither build nor image"
            );
            continue;
        }
        let command = strings(&service["command"]);
        let router_config = service["configs"].as_vec().and_then(|configs| {
            let config = configs.first()?;
            assert_eq!(
                config["target"].as_str(),
                command.get(3).map(String::as_str)
            );
            let source = config["source"].as_str()?;
            compose["configs"][source]["file"]
                .as_str()
                .map(|f| root().join(f))
        });
        let container = Container {
            what: format!("docker-compose.yml: {name}"),
            command,
            probes: compose_health(name, service),
            env,
            router_config,
        };
        router_urls.extend(check_container(&container));
        listen.insert(name.to_owned(), container.probes[0].1);
        let deps = if container.command[0] == "router" {
            &["redis"][..]
        } else {
            &["redis", "mongo"]
        };
        for dependency in deps {
            assert!(
                !service["depends_on"][*dependency].is_badvalue(),
                "{name}: must wait for {dependency}"
            );
        }
    }
    let (nginx, env, service) = nginx_env.expect("an NGINX service built from the edge target");
    let rendered = check_nginx_env(&format!("docker-compose.yml: {nginx}"), &env);
    assert_eq!(compose_health(&nginx, &service)[0].0, "/nginx-health");
    assert!(rendered.contains("location = /nginx-health"));
    let public = &env["PUBLIC_LISTEN"];
    assert!(strings(&service["ports"])
        .iter()
        .any(|p| p.ends_with(&format!(":{public}"))));
    // NGINX's upstreams are services on the ports they listen on.
    for (key, list) in env.iter().filter(|(k, _)| k.ends_with("_SERVERS")) {
        for server in list.split([' ', ',']).filter(|s| !s.is_empty()) {
            let (host, port) = server.split_once(':').expect("host:port");
            assert_eq!(
                listen.get(host).map(u16::to_string).as_deref(),
                Some(port),
                "{key}: {server}"
            );
        }
    }
    // The routers reach every subgraph: directly, or through NGINX's internal port and a
    // location of the template.
    let internal: u16 = env["SUBGRAPH_LISTEN"]
        .parse()
        .expect("SUBGRAPH_LISTEN is a port");
    for (host, port, path) in router_urls {
        if host == nginx {
            assert_eq!(port, internal, "{host}:{port}{path}");
            let prefix = path.trim_end_matches("graphql");
            assert!(
                rendered.contains(&format!("location {prefix} ")),
                "no NGINX location for {path}"
            );
        } else {
            assert_eq!(
                listen.get(&host),
                Some(&port),
                "{host}:{port}{path}: no such service port"
            );
        }
    }
}

/// Kubernetes resources of the kustomization, and the data of its plain ConfigMaps.
fn k8s_resources() -> (Vec<Yaml>, BTreeMap<String, String>) {
    let kustomization = yaml_documents("deploy/k8s/kustomization.yaml").remove(0);
    let mut resources = Vec::new();
    for file in strings(&kustomization["resources"]) {
        resources.extend(yaml_documents(&format!("deploy/k8s/{file}")));
    }
    let mut config_values = BTreeMap::new();
    for r in resources
        .iter()
        .filter(|r| r["kind"].as_str() == Some("ConfigMap"))
    {
        let map = r["metadata"]["name"].as_str().expect("name");
        for (k, v) in r["data"].as_hash().into_iter().flatten() {
            let value = v.as_str().expect("string").to_owned();
            config_values.insert(format!("{map}/{}", k.as_str().expect("key")), value);
        }
    }
    (resources, config_values)
}

#[test]
fn kubernetes_containers_run_binaries_of_the_image_with_known_settings() {
    let (resources, config_values) = k8s_resources();
    let service_ports: BTreeSet<(String, u16)> = resources
        .iter()
        .filter(|r| r["kind"].as_str() == Some("Service"))
        .flat_map(|r| {
            let name = r["metadata"]["name"].as_str().expect("name").to_owned();
            let ports = r["spec"]["ports"].as_vec().cloned().unwrap_or_default();
            ports
                .into_iter()
                .map(move |p| (name.clone(), p["port"].as_i64().expect("port") as u16))
        })
        .collect();
    let mut checked = BTreeSet::new();
    for r in resources
        .iter()
        .filter(|r| r["kind"].as_str() == Some("Deployment"))
    {
        let deployment = r["metadata"]["name"].as_str().expect("name");
        let pod = &r["spec"]["template"]["spec"];
        for c in pod["containers"].as_vec().expect("containers") {
            let what = format!("deploy/k8s: {deployment}");
            let mut env = BTreeMap::new();
            for var in c["env"].as_vec().into_iter().flatten() {
                let name = var["name"].as_str().expect("env name").to_owned();
                let from = &var["valueFrom"]["configMapKeyRef"];
                let value = match (var["value"].as_str(), from["name"].as_str()) {
                    (Some(value), _) => value.to_owned(),
                    (None, Some(map)) => {
                        let key = format!("{map}/{}", from["key"].as_str().expect("key"));
                        config_values
                            .get(&key)
                            .cloned()
                            .unwrap_or_else(|| panic!("{what}: no {key}"))
                    }
                    _ => "pod-name".to_owned(), // fieldRef
                };
                env.insert(name, value);
            }
            let ports: BTreeMap<String, u16> = c["ports"]
                .as_vec()
                .into_iter()
                .flatten()
                .map(|p| {
                    (
                        p["name"].as_str().unwrap_or("").to_owned(),
                        p["containerPort"].as_i64().expect("port") as u16,
                    )
                })
                .collect();
            let probes: Vec<(String, u16)> = ["readinessProbe", "livenessProbe", "startupProbe"]
                .iter()
                .filter_map(|probe| {
                    let get = &c[*probe]["httpGet"];
                    let port = get["port"]
                        .as_str()
                        .map(|n| ports[n])
                        .or(get["port"].as_i64().map(|p| p as u16))?;
                    Some((get["path"].as_str()?.to_owned(), port))
                })
                .collect();
            assert!(probes.len() >= 2, "{what}: readiness and liveness probes");
            assert!(
                !c["resources"]["requests"].is_badvalue()
                    && !c["resources"]["limits"].is_badvalue(),
                "{what}: resources"
            );
            if c["image"].as_str() == Some("platform-edge") {
                let rendered = check_nginx_env(&what, &env);
                assert!(probes
                    .iter()
                    .all(|(p, _)| rendered.contains(&format!("location = {p}"))));
                checked.insert("web".to_owned());
                continue;
            }
            assert_eq!(c["image"].as_str(), Some("platform"), "{what}");
            let container = Container {
                what: what.clone(),
                command: strings(&c["command"]),
                env,
                probes,
                router_config: Some(root().join("deploy/k8s/router.toml")),
            };
            for (host, port, _) in check_container(&container) {
                assert!(
                    service_ports.contains(&(host.clone(), port)),
                    "{what}: no Service {host}:{port}"
                );
            }
            checked.insert(container.command[0].clone());
        }
    }
    let expected: BTreeSet<String> = SUBGRAPHS
        .iter()
        .chain(&["router", "web"])
        .map(|s| s.to_string())
        .collect();
    assert_eq!(checked, expected);
}
