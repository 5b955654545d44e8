import type { IService } from "kubernetes-models/v1/Service";
import type { Manifest, Problem } from "./manifests.js";
import { namespaceOf, type Workload } from "./workloads.js";

/**
 * The proxy's `BACKENDS` against the Services beside it. An entry
 * `[name=]dns+srv://_port._proto.host` or `[name=]dns://host:port` whose host is one DNS label
 * is a Service of the same namespace, found through the pod's search domains; it must be in the
 * render, be headless (else DNS answers with the Service's one virtual IP and the proxies see a
 * single server) and, for SRV, have a port of that name and protocol (else there is no record).
 */
export function checkBackends(
  workloads: Workload[],
  services: Manifest[],
): { problems: Problem[]; links: string[] } {
  const problems: Problem[] = [];
  const links: string[] = [];
  for (const workload of workloads)
    workload.containers.forEach((container, c) =>
      (container.env ?? []).forEach((env, e) => {
        if (env.name !== "BACKENDS" || env.value === undefined) return;
        for (const entry of env.value.split(",")) {
          const result = checkEntry(
            entry.trim(),
            services.filter(({ object }) => namespaceOf(object) === workload.namespace),
          );
          if (result && "problem" in result)
            problems.push({
              object: workload.name,
              path: `/spec/template/spec/containers/${c}/env/${e}/value`,
              message: `BACKENDS entry "${entry.trim()}": ${result.problem}`,
            });
          else if (result)
            links.push(`${workload.name} BACKENDS ${entry.trim()} -> ${result.service}`);
        }
      }),
    );
  return { problems, links };
}

const DISCOVERY = /^(?:[^=]+=)?(dns\+srv|dns):\/\/([^/?#]+)$/;

function checkEntry(
  entry: string,
  services: Manifest[],
): { problem: string } | { service: string } | undefined {
  const match = DISCOVERY.exec(entry);
  if (!match) return undefined;
  const [, scheme, address] = match as unknown as [string, string, string];
  let host: string;
  let srvPort: { name: string; protocol: string } | undefined;
  if (scheme === "dns+srv") {
    const srv = /^_([^.]+)\._([^.]+)\.(.+)$/.exec(address);
    if (!srv) return { problem: "an SRV name is _service._proto.name" };
    srvPort = { name: srv[1]!, protocol: srv[2]!.toUpperCase() };
    host = srv[3]!;
  } else {
    host = address.replace(/:\d+$/, "");
  }
  if (host.includes(".")) return undefined;

  const service = services.find((s) => (s.object.metadata as { name?: string }).name === host);
  if (!service) return { problem: `no Service "${host}" in the render` };
  const spec = (service.object as unknown as IService).spec ?? {};
  if (spec.clusterIP !== "None")
    return {
      problem: `Service "${host}" is not headless (spec.clusterIP: None): DNS would answer with its one virtual IP, and the proxies would see one server`,
    };
  if (
    srvPort &&
    !(spec.ports ?? []).some(
      (p) => p.name === srvPort.name && (p.protocol ?? "TCP") === srvPort.protocol,
    )
  )
    return {
      problem: `Service "${host}" has no ${srvPort.protocol} port named "${srvPort.name}", so there is no SRV record for it`,
    };
  return {
    service: `${service.name} (headless${srvPort ? `, port ${srvPort.name}/${srvPort.protocol}` : ""})`,
  };
}
