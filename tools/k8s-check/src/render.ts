import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

/** kubectl's own version and the kustomize built into it, for the report. */
export function kubectlVersion(kubectl: string): string {
  const { clientVersion, kustomizeVersion } = JSON.parse(
    run(kubectl, ["version", "--client", "--output=json"]),
  ) as { clientVersion: { gitVersion: string }; kustomizeVersion?: string };
  return `kubectl ${clientVersion.gitVersion} (kustomize ${kustomizeVersion ?? "unknown"})`;
}

/** `kubectl kustomize DIR`: the objects as one YAML stream, rendered offline. */
export function render(kubectl: string, dir: string): string {
  return run(kubectl, ["kustomize", dir]);
}

/**
 * The base with one of its components applied, through an overlay written to a temporary
 * folder (kustomize takes resources and components by relative path only).
 */
export function renderWithComponent(kubectl: string, base: string, component: string): string {
  const overlay = mkdtempSync(join(tmpdir(), "k8s-check-"));
  try {
    writeFileSync(
      join(overlay, "kustomization.yaml"),
      [
        "apiVersion: kustomize.config.k8s.io/v1beta1",
        "kind: Kustomization",
        `resources: [${JSON.stringify(relative(overlay, base))}]`,
        `components: [${JSON.stringify(relative(overlay, component))}]`,
        "",
      ].join("\n"),
    );
    return render(kubectl, overlay);
  } finally {
    rmSync(overlay, { recursive: true, force: true });
  }
}

function run(kubectl: string, args: string[]): string {
  const result = spawnSync(kubectl, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT")
    throw new Error(
      `kubectl not found (looked for "${kubectl}"): it renders the kustomization offline ` +
        "(kubectl kustomize, no cluster needed). Install kubectl 1.24 or later, or set KUBECTL to its path",
    );
  if (result.error) throw result.error;
  if (result.status !== 0)
    throw new Error(
      `${kubectl} ${args.join(" ")} failed (exit ${result.status}): ${result.stderr.trim()}`,
    );
  return result.stdout;
}
