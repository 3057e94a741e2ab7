#!/usr/bin/env python3
"""Validates deploy/k8s offline: every resource kustomization.yaml lists, against the
Kubernetes OpenAPI schemas shipped by `kubernetes-validate` (PyPI), strict (unknown fields
are errors); plus what kustomize would refuse (missing files, generator inputs, a Service or
PDB or HPA selecting nothing, an Ingress backend naming no Service port).

    pip install kubernetes-validate==1.37.0 pyyaml
    python3 deploy/k8s/validate.py [--kubernetes-version 1.31]

No cluster and no kubectl are needed. Exit status 0 when everything is valid.
"""
import argparse
import pathlib
import sys

import kubernetes_validate
import yaml

HERE = pathlib.Path(__file__).resolve().parent
# Created by the operator (README "Deploy"), never committed.
OPERATOR_FILES = {"secrets/jwt-ed25519.pem"}


def load_documents(path):
    with open(path) as f:
        return [doc for doc in yaml.safe_load_all(f) if doc is not None]


def generator_files(kustomization):
    for generator in kustomization.get("configMapGenerator", []) + kustomization.get(
        "secretGenerator", []
    ):
        for entry in generator.get("files", []):
            yield entry.split("=", 1)[-1]


def check_references(resources, errors):
    """Selectors and references inside the set of resources."""
    workloads = {
        (r["kind"], r["metadata"]["name"]): r["spec"]["template"]["metadata"]["labels"]
        for r in resources
        if r["kind"] in ("Deployment", "StatefulSet")
    }
    services = {r["metadata"]["name"]: r for r in resources if r["kind"] == "Service"}

    def selects(selector):
        return any(
            all(labels.get(k) == v for k, v in selector.items()) for labels in workloads.values()
        )

    for r in resources:
        kind, name = r["kind"], r["metadata"]["name"]
        if kind == "Service" and not selects(r["spec"]["selector"]):
            errors.append(f"Service {name}: its selector matches no workload")
        if kind == "PodDisruptionBudget" and not selects(r["spec"]["selector"]["matchLabels"]):
            errors.append(f"PodDisruptionBudget {name}: its selector matches no workload")
        if kind == "HorizontalPodAutoscaler":
            target = r["spec"]["scaleTargetRef"]
            if (target["kind"], target["name"]) not in workloads:
                errors.append(f"HorizontalPodAutoscaler {name}: no {target['kind']} {target['name']}")
        if kind == "Ingress":
            for rule in r["spec"]["rules"]:
                for path in rule["http"]["paths"]:
                    backend = path["backend"]["service"]
                    service = services.get(backend["name"])
                    port_names = [p.get("name") for p in (service or {}).get("spec", {}).get("ports", [])]
                    if service is None or backend["port"].get("name") not in port_names:
                        errors.append(f"Ingress {name}: {path['path']} -> no such Service port {backend}")
        if kind in ("Deployment", "StatefulSet"):
            for container in r["spec"]["template"]["spec"]["containers"]:
                ports = {p.get("name") for p in container.get("ports", [])}
                for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                    port = container.get(probe, {}).get("httpGet", {}).get("port")
                    if isinstance(port, str) and port not in ports:
                        errors.append(f"{kind} {name}: {probe} uses undeclared port {port}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubernetes-version", default="1.31")
    args = parser.parse_args()
    kustomization = load_documents(HERE / "kustomization.yaml")[0]
    errors, resources = [], []
    for name in generator_files(kustomization):
        if not (HERE / name).exists() and name not in OPERATOR_FILES:
            errors.append(f"kustomization.yaml: generator file {name} does not exist")
    for name in kustomization["resources"]:
        path = HERE / name
        if not path.exists():
            errors.append(f"kustomization.yaml: resource {name} does not exist")
            continue
        for doc in load_documents(path):
            try:
                kubernetes_validate.validate(doc, args.kubernetes_version, strict=True)
            except kubernetes_validate.ValidationError as e:
                where = "/".join(str(p) for p in e.path)
                errors.append(f"{name}: {doc.get('kind')} {doc['metadata'].get('name')}: {where}: {e.message}")
            except kubernetes_validate.SchemaNotFoundError as e:
                errors.append(f"{name}: {e}")
            resources.append(doc)
    check_references(resources, errors)
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    kinds = sorted({r["kind"] for r in resources})
    print(f"{len(resources)} resources ({', '.join(kinds)}) against Kubernetes "
          f"{args.kubernetes_version}: {'invalid' if errors else 'valid'}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
