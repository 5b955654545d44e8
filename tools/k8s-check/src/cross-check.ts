import type { IPodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IService } from "kubernetes-models/v1/Service";
import { checkBackends } from "./backends-check.js";
import type { Manifest, Problem } from "./manifests.js";
import {
  declaresPort,
  namespaceOf,
  portList,
  selects,
  workloadsOf,
  type Workload,
} from "./workloads.js";

const PROBES = ["readinessProbe", "livenessProbe", "startupProbe"] as const;

/**
 * Facts about how the objects fit together that no schema states, read from objects that have
 * passed the schema check. Returns the problems, and the links found (which Service and which
 * disruption budget reach which workload's pods) for the report.
 */
export function crossCheck(manifests: Manifest[]): { problems: Problem[]; links: string[] } {
  const problems: Problem[] = [];
  const links: string[] = [];
  const workloads = workloadsOf(manifests);
  const services = manifests.filter(
    ({ object }) => object.apiVersion === "v1" && object.kind === "Service",
  );
  const reached = (object: Record<string, unknown>, selector: Parameters<typeof selects>[0]) =>
    workloads.filter((w) => w.namespace === namespaceOf(object) && selects(selector, w.podLabels));

  for (const workload of workloads) {
    if (!selects(workload.selector, workload.podLabels))
      problems.push({
        object: workload.name,
        path: "/spec/selector",
        message:
          "does not select the labels of its own pod template (/spec/template/metadata/labels); the API server refuses this",
      });
    workload.containers.forEach((container, index) =>
      problems.push(...checkProbes(workload, container, index)),
    );
  }

  for (const { name, object } of services) {
    const spec = (object as unknown as IService).spec ?? {};
    if (!spec.selector) continue;
    const selected = reached(object, { matchLabels: spec.selector });
    if (selected.length === 0) {
      problems.push({
        object: name,
        path: "/spec/selector",
        message: "selects the pods of no workload in the render",
      });
      continue;
    }
    (spec.ports ?? []).forEach((port, index) => {
      const target = port.targetPort ?? port.port;
      for (const workload of selected) {
        if (workload.containers.some((c) => declaresPort(c, target)))
          links.push(
            `${name} port ${port.port} -> ${workload.name} port ${JSON.stringify(target)}`,
          );
        else
          problems.push({
            object: name,
            path: `/spec/ports/${index}/targetPort`,
            message: `targets port ${JSON.stringify(target)}, which no container of ${workload.name} declares (${portList(workload.containers)})`,
          });
      }
    });
  }

  for (const { name, object } of manifests) {
    if (object.apiVersion !== "policy/v1" || object.kind !== "PodDisruptionBudget") continue;
    const selected = reached(
      object,
      (object as unknown as IPodDisruptionBudget).spec?.selector ?? {},
    );
    if (selected.length === 0)
      problems.push({
        object: name,
        path: "/spec/selector",
        message: "selects the pods of no workload in the render",
      });
    for (const workload of selected) links.push(`${name} -> ${workload.name}`);
  }

  const backends = checkBackends(workloads, services);
  return { problems: [...problems, ...backends.problems], links: [...links, ...backends.links] };
}

function checkProbes(workload: Workload, container: IContainer, index: number): Problem[] {
  const problems: Problem[] = [];
  for (const probe of PROBES) {
    const handler = container[probe];
    if (!handler) continue;
    const actions = [
      ["httpGet", handler.httpGet?.port],
      ["tcpSocket", handler.tcpSocket?.port],
      ["grpc", handler.grpc?.port],
    ] as const;
    for (const [action, port] of actions) {
      if (port === undefined || declaresPort(container, port)) continue;
      problems.push({
        object: workload.name,
        path: `/spec/template/spec/containers/${index}/${probe}/${action}/port`,
        message: `probes port ${JSON.stringify(port)}, which container "${container.name}" does not declare (${portList([container])})`,
      });
    }
  }
  return problems;
}
