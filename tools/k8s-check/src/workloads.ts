import type { IDeploymentSpec } from "kubernetes-models/apps/v1/DeploymentSpec";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { Manifest } from "./manifests.js";

export type LabelSelector = IDeploymentSpec["selector"];

/** A Deployment, StatefulSet, DaemonSet or ReplicaSet: what makes pods, and which. */
export interface Workload {
  name: string;
  namespace: string | undefined;
  selector: LabelSelector;
  podLabels: Record<string, string>;
  containers: IContainer[];
}

const WORKLOAD_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"]);

/** The workloads among objects that have passed the schema check. */
export function workloadsOf(manifests: Manifest[]): Workload[] {
  return manifests
    .filter(
      ({ object }) => object.apiVersion === "apps/v1" && WORKLOAD_KINDS.has(String(object.kind)),
    )
    .map(({ name, object }) => {
      // The four kinds' specs share these two fields.
      const spec = object.spec as Pick<IDeploymentSpec, "selector" | "template">;
      return {
        name,
        namespace: namespaceOf(object),
        selector: spec.selector,
        podLabels: spec.template.metadata?.labels ?? {},
        containers: spec.template.spec?.containers ?? [],
      };
    });
}

export function namespaceOf(object: Record<string, unknown>): string | undefined {
  return (object.metadata as { namespace?: string } | undefined)?.namespace;
}

/** Kubernetes' label selector semantics; an empty selector selects everything. */
export function selects(selector: LabelSelector, labels: Record<string, string>): boolean {
  const matchLabels = Object.entries(selector.matchLabels ?? {});
  if (!matchLabels.every(([key, value]) => labels[key] === value)) return false;
  return (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
    const value = labels[key];
    switch (operator) {
      case "In":
        return value !== undefined && values.includes(value);
      case "NotIn":
        return value === undefined || !values.includes(value);
      case "Exists":
        return value !== undefined;
      case "DoesNotExist":
        return value === undefined;
      default:
        return false;
    }
  });
}

/** Port `http` is declared when a container port has that name; 8080, when one has that number. */
export function declaresPort(container: IContainer, port: number | string): boolean {
  return (container.ports ?? []).some((p) =>
    typeof port === "string" ? p.name === port : p.containerPort === port,
  );
}

/** "declared: http=8080", for messages. */
export function portList(containers: IContainer[]): string {
  const ports = containers.flatMap((c) => c.ports ?? []);
  if (ports.length === 0) return "it declares no ports";
  return `declared: ${ports.map((p) => (p.name ? `${p.name}=${p.containerPort}` : String(p.containerPort))).join(", ")}`;
}
