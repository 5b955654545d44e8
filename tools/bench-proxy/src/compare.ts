// `pnpm bench:compare <rev> [<rev> ...]`: the proxy as built from each git
// revision, side by side in one run (alternating rounds, as bench:proxy
// does), to show what a change did. "." is the working tree's own build.
// Each revision's apps/proxy/src is compiled into apps/proxy/.compare/<rev>
// against the workspace's current packages and dependencies, so a change
// to those is not what this compares. A dependency the proxy has since
// dropped (undici) is taken from the bench tools, which keep it for that.
// Writes results/compare.md.

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { sideBySide } from "./measure.js";
import { PORT_BASE, launchLine, repo, startStickyring } from "./processes.js";

const proxyDir = join(repo, "apps/proxy");

/** Compiles apps/proxy/src as it was at `rev`; returns its entry file. */
function build(rev: string): string {
  if (rev === ".") return join(proxyDir, "dist/main.js");
  const commit = execFileSync("git", ["rev-parse", "--short", rev], {
    cwd: repo,
    encoding: "utf8",
  });
  const dir = join(proxyDir, ".compare", commit.trim());
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // Inside apps/proxy, so its imports resolve to the package's node_modules.
  execFileSync("sh", ["-c", `git archive ${commit.trim()} apps/proxy/src | tar -x -C "${dir}"`], {
    cwd: repo,
  });
  linkDependencies(commit.trim(), dir);
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      extends: join(proxyDir, "tsconfig.build.json"),
      compilerOptions: { rootDir: "apps/proxy/src", outDir: "dist" },
      include: ["apps/proxy/src"],
    }),
  );
  execFileSync(join(repo, "node_modules/.bin/tsc"), ["-p", join(dir, "tsconfig.json")], {
    stdio: "inherit",
  });
  return join(dir, "dist/main.js");
}

/** Links each dependency `commit`'s apps/proxy/package.json names into `dir`/node_modules. */
function linkDependencies(commit: string, dir: string): void {
  const manifest = JSON.parse(
    execFileSync("git", ["show", `${commit}:apps/proxy/package.json`], {
      cwd: repo,
      encoding: "utf8",
    }),
  ) as { dependencies?: Record<string, string> };
  const homes = [join(proxyDir, "node_modules"), join(repo, "tools/bench-proxy/node_modules")];
  for (const name of Object.keys(manifest.dependencies ?? {})) {
    const found = homes.map((home) => join(home, name)).find((path) => existsSync(path));
    if (found === undefined)
      throw new Error(`${commit} needs ${name}, which no workspace package has`);
    const link = join(dir, "node_modules", name);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(found, link);
  }
}

const revisions = process.argv.slice(2);
if (revisions.length < 2) {
  console.error("usage: pnpm bench:compare <rev> <rev> [...]   (git revisions; . = working tree)");
  process.exit(2);
}
const builds = revisions.map((rev) => ({ name: `\`${rev}\``, main: build(rev) }));

await sideBySide({
  file: "compare.md",
  command: `pnpm bench:compare ${revisions.join(" ")}`,
  about: `Each revision's proxy (apps/proxy/src at that commit, built against the current workspace; \`.\` is the working tree's build), run as ${launchLine()} with the default configuration;`,
  firstColumn: "revision",
  backends: [PORT_BASE + 111, PORT_BASE + 112, PORT_BASE + 113],
  candidates: builds.map(
    (b, i) => (backends: number[]) =>
      startStickyring(PORT_BASE + 210 + i, PORT_BASE + 310 + i, backends, 0, b),
  ),
});
