// The scripts a `pnpm` command in the docs can name: the root package's, and
// each workspace package's (pnpm-workspace.yaml), by package name and folder.

import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

export interface WorkspacePackage {
  name: string;
  /** Its folder, relative to the root ("apps/proxy"). */
  dir: string;
  scripts: Set<string>;
}

export interface Workspace {
  rootScripts: Set<string>;
  packages: WorkspacePackage[];
}

export function readWorkspace(root: string): Workspace {
  const rootScripts = scriptsOf(join(root, "package.json"));
  const manifest = join(root, "pnpm-workspace.yaml");
  const patterns = existsSync(manifest) ? packagePatterns(readFileSync(manifest, "utf8")) : [];
  const packages: WorkspacePackage[] = [];
  for (const dir of patterns.flatMap((pattern) => expand(root, pattern))) {
    const file = join(root, dir, "package.json");
    if (!existsSync(file)) continue;
    const { name } = JSON.parse(readFileSync(file, "utf8")) as { name?: string };
    if (name !== undefined) packages.push({ name, dir, scripts: scriptsOf(file) });
  }
  return { rootScripts, packages };
}

function scriptsOf(file: string): Set<string> {
  const { scripts } = JSON.parse(readFileSync(file, "utf8")) as {
    scripts?: Record<string, string>;
  };
  return new Set(Object.keys(scripts ?? {}));
}

/** The `packages:` list of pnpm-workspace.yaml (the only key read; no YAML library needed). */
export function packagePatterns(yaml: string): string[] {
  const patterns: string[] = [];
  let inList = false;
  for (const line of yaml.split("\n")) {
    if (/^packages:\s*$/.test(line)) {
      inList = true;
      continue;
    }
    if (!inList || /^\s*(#.*)?$/.test(line)) continue;
    const item = /^\s+-\s+["']?([^"'#\s]+)["']?/.exec(line);
    if (!item) {
      inList = false;
      continue;
    }
    patterns.push(item[1]!);
  }
  return patterns;
}

/** `apps/*` or a plain folder; other globs are refused rather than guessed at. */
function expand(root: string, pattern: string): string[] {
  const clean = pattern.replace(/^\.\//, "").replace(/\/$/, "");
  if (!clean.includes("*")) return [clean];
  if (!/^[^*]+\/\*$/.test(clean))
    throw new Error(
      `pnpm-workspace.yaml: pattern ${pattern} is not supported (folder/* or a folder)`,
    );
  const parent = clean.slice(0, -2);
  if (!existsSync(join(root, parent))) return [];
  return readdirSync(join(root, parent), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => `${parent}/${entry.name}`)
    .sort();
}
