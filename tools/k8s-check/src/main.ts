// Entry: render deploy/kubernetes (or the folder given) and each of its components with
// `kubectl kustomize`, check every object, print what was checked; exit 1 on a problem, 2
// when the check itself cannot run.
import { existsSync, readdirSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { checkManifests } from "./check.js";
import { formatProblem } from "./manifests.js";
import { kubectlVersion, render, renderWithComponent } from "./render.js";
import { SchemaValidator } from "./schema-check.js";
import { SCHEMA_SOURCE } from "./schemas.js";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const base = resolve(process.argv[2] ?? join(repoRoot, "deploy/kubernetes"));
const kubectl = process.env.KUBECTL ?? "kubectl";
const shown = (dir: string) => {
  const path = relative(repoRoot, dir);
  return path.startsWith("..") ? dir : path || ".";
};

try {
  console.log(
    `k8s-check: ${kubectlVersion(kubectl)}; schemas of Kubernetes ${SCHEMA_SOURCE.kubernetes} ` +
      `(${SCHEMA_SOURCE.package} ${SCHEMA_SOURCE.version}), each object closed to the fields it defines`,
  );
  const validator = new SchemaValidator();
  const componentsDir = join(base, "components");
  const components = existsSync(componentsDir)
    ? readdirSync(componentsDir).filter((name) =>
        existsSync(join(componentsDir, name, "kustomization.yaml")),
      )
    : [];
  const targets = [
    { label: shown(base), text: () => render(kubectl, base) },
    ...components.map((name) => ({
      label: `${shown(base)} + components/${name}`,
      text: () => renderWithComponent(kubectl, base, join(componentsDir, name)),
    })),
  ];

  let problems = 0;
  for (const { label, text } of targets) {
    const report = checkManifests(text(), validator);
    problems += report.problems.length;
    console.log(
      `\n${label}: ${report.manifests.length} objects, ` +
        (report.problems.length === 0 ? "no problems" : `${report.problems.length} problems`),
    );
    console.log(`  ${report.manifests.map((m) => m.name).join(", ")}`);
    for (const link of report.links) console.log(`  ${link}`);
    for (const problem of report.problems) console.log(`  ${formatProblem(problem)}`);
  }
  process.exit(problems === 0 ? 0 : 1);
} catch (error) {
  console.error(`k8s-check: ${(error as Error).message}`);
  process.exit(2);
}
