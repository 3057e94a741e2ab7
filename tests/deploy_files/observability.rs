//! Observability of the deployments: Prometheus scrapes every service that serves /metrics
//! (compose: static targets; Kubernetes: pod annotations and pod discovery), and the Grafana
//! dashboard compose provisions uses the provisioned data source and queries only metrics the
//! router and the subgraphs export.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

use super::{
    compose_health, dashboard, image_binaries, k8s_resources, read, root, routes, strings,
    yaml_documents, SUBGRAPHS,
};

/// The files compose mounts into `service` as configs: target path -> repository-relative file.
fn compose_config_mounts(compose: &Yaml, service: &str) -> BTreeMap<String, String> {
    let configs = compose["services"][service]["configs"]
        .as_vec()
        .unwrap_or_else(|| panic!("{service}: no configs"));
    configs
        .iter()
        .map(|config| {
            let source = config["source"].as_str().expect("config source");
            let file = compose["configs"][source]["file"]
                .as_str()
                .unwrap_or_else(|| panic!("{service}: no top-level config {source}"));
            let file = file.trim_start_matches("./").to_owned();
            assert!(
                root().join(&file).is_file(),
                "{service}: {file} does not exist"
            );
            let target = config["target"].as_str().expect("config target").to_owned();
            (target, file)
        })
        .collect()
}

/// Compose services that serve `/metrics`: those running a binary of the image (the routers
/// and the subgraph replicas), as `host:port` (the port they listen on) -> binary.
fn compose_metrics_servers(compose: &Yaml) -> BTreeMap<String, String> {
    let mut servers = BTreeMap::new();
    for (name, service) in compose["services"].as_hash().expect("services") {
        let name = name.as_str().expect("service name");
        let command = strings(&service["command"]);
        let Some(binary) = command.first() else {
            continue;
        };
        if service["build"].is_badvalue() || !image_binaries().contains(binary) {
            continue;
        }
        // compose_services_run_binaries_of_the_image_with_known_settings ties the health
        // check's port to the one the binary listens on.
        let (_, port) = compose_health(name, service)[0];
        servers.insert(format!("{name}:{port}"), binary.clone());
    }
    servers
}

#[test]
fn prometheus_scrapes_every_compose_service_that_serves_metrics() {
    assert!(
        routes("subgraphs/kit/src/server.rs").contains("/metrics"),
        "subgraphs serve /metrics"
    );
    let compose = yaml_documents("docker-compose.yml").remove(0);
    let servers = compose_metrics_servers(&compose);
    assert!(servers.values().any(|b| b == "router"), "{servers:?}");
    let config = yaml_documents("deploy/compose/prometheus.yml").remove(0);
    // target -> job
    let mut scraped = BTreeMap::new();
    for job in config["scrape_configs"].as_vec().expect("scrape_configs") {
        let name = job["job_name"].as_str().expect("job_name");
        let path = job["metrics_path"].as_str().unwrap_or("/metrics");
        assert_eq!(path, "/metrics", "prometheus.yml: {name}");
        for group in job["static_configs"].as_vec().into_iter().flatten() {
            for target in strings(&group["targets"]) {
                let previous = scraped.insert(target.clone(), name.to_owned());
                assert!(
                    previous.is_none(),
                    "prometheus.yml: {target} is scraped twice"
                );
            }
        }
    }
    // One job per binary, named after it, so `job` groups the replicas of one service.
    assert_eq!(
        scraped, servers,
        "prometheus.yml targets -> job vs compose services serving /metrics -> binary"
    );
    let prometheus = &compose["services"]["prometheus"];
    let flag = strings(&prometheus["command"])
        .into_iter()
        .find_map(|arg| arg.strip_prefix("--config.file=").map(str::to_owned))
        .expect("prometheus: --config.file");
    assert_eq!(
        compose_config_mounts(&compose, "prometheus")
            .get(&flag)
            .map(String::as_str),
        Some("deploy/compose/prometheus.yml")
    );
}

/// The file compose mounts into Grafana under `dir`, parsed; exactly one.
fn grafana_provisioning(mounts: &BTreeMap<String, String>, dir: &str) -> Yaml {
    let files: Vec<&String> = mounts
        .iter()
        .filter(|(target, _)| target.starts_with(dir))
        .map(|(_, file)| file)
        .collect();
    assert_eq!(files.len(), 1, "grafana: one file under {dir}: {files:?}");
    yaml_documents(files[0]).remove(0)
}

/// Every data source reference of a dashboard names `uid` (Grafana's built-in annotation
/// source excepted), and every panel but a row has one and queries something.
fn check_datasources(what: &str, value: &Value, uid: &str) {
    match value {
        Value::Object(object) => {
            if let Some(source) = object.get("datasource") {
                if source["type"] != "grafana" {
                    let at = ["title", "name", "refId"]
                        .iter()
                        .find_map(|key| value[*key].as_str())
                        .unwrap_or_default();
                    assert_eq!(source["uid"], uid, "{what}: {at}");
                }
            }
            let is_panel = object.contains_key("gridPos");
            if is_panel && value["type"] != "row" {
                let title = &value["title"];
                assert!(object.contains_key("datasource"), "{what}: {title}");
                let targets = value["targets"].as_array();
                assert!(
                    targets.is_some_and(|t| {
                        !t.is_empty() && t.iter().all(|t| t["expr"].is_string())
                    }),
                    "{what}: {title}: queries, each with a PromQL expression"
                );
            }
            object
                .values()
                .for_each(|v| check_datasources(what, v, uid));
        }
        Value::Array(items) => items.iter().for_each(|v| check_datasources(what, v, uid)),
        _ => {}
    }
}

#[test]
fn grafana_provisions_the_dashboards_on_the_provisioned_data_source() {
    let compose = yaml_documents("docker-compose.yml").remove(0);
    let mounts = compose_config_mounts(&compose, "grafana");
    let sources = grafana_provisioning(&mounts, "/etc/grafana/provisioning/datasources/");
    let prometheus: Vec<&Yaml> = sources["datasources"]
        .as_vec()
        .expect("datasources")
        .iter()
        .filter(|s| s["type"].as_str() == Some("prometheus"))
        .collect();
    assert_eq!(prometheus.len(), 1, "one Prometheus data source");
    assert_eq!(
        prometheus[0]["url"].as_str(),
        Some("http://prometheus:9090")
    );
    let uid = prometheus[0]["uid"]
        .as_str()
        .expect("a fixed uid for the dashboards");
    let providers = grafana_provisioning(&mounts, "/etc/grafana/provisioning/dashboards/");
    let paths: Vec<String> = providers["providers"]
        .as_vec()
        .expect("providers")
        .iter()
        .filter(|p| p["type"].as_str() == Some("file"))
        .map(|p| {
            p["options"]["path"]
                .as_str()
                .expect("options.path")
                .to_owned()
        })
        .collect();
    let dir = "deploy/compose/grafana/dashboards";
    let mut shipped = BTreeSet::new();
    for entry in std::fs::read_dir(root().join(dir)).expect(dir) {
        let name = entry.expect("dir entry").file_name();
        let name = name.to_str().expect("UTF-8 file name");
        if name.ends_with(".json") {
            shipped.insert(format!("{dir}/{name}"));
        }
    }
    assert!(shipped.contains(dashboard::DASHBOARD), "{shipped:?}");
    let mut provisioned = BTreeSet::new();
    for (target, file) in &mounts {
        if paths.iter().any(|p| target.starts_with(&format!("{p}/"))) {
            let json: Value = serde_json::from_str(&read(file))
                .unwrap_or_else(|e| panic!("{file} is not JSON: {e}"));
            check_datasources(file, &json, uid);
            provisioned.insert(file.clone());
        }
    }
    assert_eq!(
        provisioned, shipped,
        "dashboards mounted under a provider's path ({paths:?}) vs the files of {dir}"
    );
    let dashboard = dashboard::dashboard();
    assert!(dashboard["uid"].is_string() && dashboard["title"].is_string());
    check_datasources(dashboard::DASHBOARD, &dashboard, uid);
}

/// What the router and the subgraphs export, by type, as named in the exposition without
/// suffixes (every name carries the constant label `service`).
const COUNTERS: [&str; 11] = [
    "platform_graphql_requests",
    "platform_graphql_errors",
    "platform_cache_requests",
    "platform_domain_events",
    "platform_router_requests",
    "platform_router_errors",
    "platform_router_subgraph_fetch_errors",
    "platform_router_subgraph_fetches_coalesced",
    "platform_router_plan_cache",
    "platform_router_subscription_events",
    "platform_router_subscription_clients_dropped",
];
const HISTOGRAMS: [&str; 7] = [
    "platform_graphql_request_duration_seconds",
    "platform_store_call_duration_seconds",
    "platform_redis_call_duration_seconds",
    "platform_router_request_duration_seconds",
    "platform_router_subgraph_fetch_duration_seconds",
    "platform_router_entity_batch_size",
    "platform_router_planning_duration_seconds",
];
const GAUGES: [&str; 5] = [
    "platform_websocket_connections",
    "platform_router_subscriptions",
    "platform_router_upstream_subscriptions",
    "platform_router_open_connections",
    "platform_process_resident_memory_bytes",
];

/// Every name of the exposition: `_total` counters, `_bucket`/`_sum`/`_count` histograms.
fn exported_names() -> BTreeSet<String> {
    let counters = COUNTERS.iter().map(|c| format!("{c}_total"));
    let histograms = HISTOGRAMS.iter().flat_map(|h| {
        ["_bucket", "_sum", "_count"]
            .iter()
            .map(move |suffix| format!("{h}{suffix}"))
    });
    let gauges = GAUGES.iter().map(|g| g.to_string());
    counters.chain(histograms).chain(gauges).collect()
}

#[test]
fn dashboard_queries_only_metrics_the_services_export() {
    let used = dashboard::dashboard_metrics();
    let exported = exported_names();
    let unknown: Vec<&String> = used.difference(&exported).collect();
    assert!(unknown.is_empty(), "the dashboard queries {unknown:?}");
    // The golden signals: the router's requests and latency, and every subgraph's.
    for name in [
        "platform_router_requests_total",
        "platform_router_request_duration_seconds_bucket",
        "platform_router_subgraph_fetch_duration_seconds_bucket",
        "platform_graphql_requests_total",
        "platform_graphql_request_duration_seconds_bucket",
        "platform_process_resident_memory_bytes",
    ] {
        assert!(used.contains(name), "the dashboard does not show {name}");
    }
    for expr in dashboard::expressions(&dashboard::dashboard()) {
        let mut depth = 0i32;
        for c in expr.chars() {
            depth += match c {
                '(' | '{' | '[' => 1,
                ')' | '}' | ']' => -1,
                _ => 0,
            };
            assert!(depth >= 0, "unbalanced: {expr}");
        }
        assert_eq!(depth, 0, "unbalanced: {expr}");
        // Ranges follow the scrape interval and the zoom instead of a fixed window.
        for range in expr.split('[').skip(1) {
            assert!(range.starts_with("$__rate_interval]"), "{expr}");
        }
    }
}

#[test]
fn dashboard_metric_names_skip_strings_and_variables() {
    let names = dashboard::metric_names(
        r#"sum by (le) (rate(platform_a_bucket{x=~"platform_b|\"platform_c"}[$__rate_interval])) / platform_d:ratio"#,
    );
    let expected: BTreeSet<String> = ["platform_a_bucket", "platform_d:ratio"]
        .map(String::from)
        .into();
    assert_eq!(names, expected);
}

#[test]
fn kubernetes_pods_that_serve_metrics_are_annotated_and_discovered() {
    let (resources, config_values) = k8s_resources();
    let mut annotated = BTreeSet::new();
    for r in resources
        .iter()
        .filter(|r| matches!(r["kind"].as_str(), Some("Deployment" | "StatefulSet")))
    {
        let name = r["metadata"]["name"].as_str().expect("name");
        let template = &r["spec"]["template"];
        let annotations = &template["metadata"]["annotations"];
        let container = &template["spec"]["containers"][0];
        // The router and the subgraphs; NGINX, MongoDB and Redis serve no /metrics.
        if container["image"].as_str() != Some("platform") {
            assert!(
                annotations["prometheus.io/scrape"].is_badvalue(),
                "deploy/k8s: {name} serves no /metrics"
            );
            continue;
        }
        let ports = container["ports"].as_vec().expect("ports");
        let port = ports
            .iter()
            .find(|p| p["name"].as_str() == Some("http"))
            .and_then(|p| p["containerPort"].as_i64())
            .expect("an http port");
        let expected = [
            ("prometheus.io/scrape", "true".to_owned()),
            ("prometheus.io/port", port.to_string()),
            ("prometheus.io/path", "/metrics".to_owned()),
        ];
        for (key, value) in expected {
            assert_eq!(
                annotations[key].as_str(),
                Some(value.as_str()),
                "deploy/k8s: {name}: {key}"
            );
        }
        annotated.insert(strings(&container["command"])[0].clone());
    }
    let expected: BTreeSet<String> = SUBGRAPHS
        .iter()
        .chain(&["router"])
        .map(|s| s.to_string())
        .collect();
    assert_eq!(annotated, expected);
    let text = config_values
        .get("prometheus-scrape/prometheus.yml")
        .expect("deploy/k8s/prometheus.yaml: ConfigMap prometheus-scrape");
    let config = YamlLoader::load_from_str(text).expect("prometheus.yml is YAML");
    check_pod_discovery(&config[0]);
}

/// A job discovers the pods of the kustomization's namespace and scrapes those annotated
/// `prometheus.io/scrape: "true"` at their annotated port and path.
fn check_pod_discovery(config: &Yaml) {
    let namespace = yaml_documents("deploy/k8s/kustomization.yaml").remove(0)["namespace"]
        .as_str()
        .expect("namespace")
        .to_owned();
    let job = config["scrape_configs"]
        .as_vec()
        .expect("scrape_configs")
        .iter()
        .find(|job| job["kubernetes_sd_configs"][0]["role"].as_str() == Some("pod"))
        .expect("a job with pod discovery");
    let sd = &job["kubernetes_sd_configs"][0];
    assert_eq!(strings(&sd["namespaces"]["names"]), [namespace]);
    let annotation = |name: &str| format!("__meta_kubernetes_pod_annotation_prometheus_io_{name}");
    let rules = job["relabel_configs"].as_vec().expect("relabel_configs");
    let rule = |source: &str, check: &dyn Fn(&Yaml) -> bool| {
        rules
            .iter()
            .any(|r| strings(&r["source_labels"]).contains(&annotation(source)) && check(r))
    };
    assert!(rule("scrape", &|r| r["action"].as_str() == Some("keep")
        && r["regex"].as_str() == Some("true")));
    assert!(rule("path", &|r| r["target_label"].as_str()
        == Some("__metrics_path__")));
    assert!(rule("port", &|r| r["target_label"].as_str()
        == Some("__address__")));
}
