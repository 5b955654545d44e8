// `pnpm bench:compare <rev> [<rev> ...]`: the proxy as built from each git
// revision, side by side in one run (alternating rounds, as bench:proxy
// does), to show what a change did. "." is the working tree's own build.
// Each revision's apps/proxy/src is compiled into apps/proxy/.compare/<rev>
// against the workspace's current packages and dependencies, so a change
// to those is not what this compares. Writes results/compare.md.

import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { alternate, writeRoundsReport } from "./measure.js";
import {
  cleanup,
  ensureTools,
  launchLine,
  repo,
  startBackends,
  startStickyring,
  type Started,
} from "./processes.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
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

async function main() {
  const revisions = process.argv.slice(2);
  if (revisions.length < 2) {
    console.error(
      "usage: pnpm bench:compare <rev> <rev> [...]   (git revisions; . = working tree)",
    );
    process.exit(2);
  }
  ensureTools();
  const builds = revisions.map((rev) => ({ name: `\`${rev}\``, main: build(rev) }));
  const backends = [19111, 19112, 19113];
  const started: Started[] = [await startBackends(backends)];
  try {
    const candidates: Started[] = [];
    for (const [i, b] of builds.entries())
      candidates.push(await startStickyring(19210 + i, 19310 + i, backends, 0, b));
    started.push(...candidates);
    const runs = await alternate(candidates, CONNECTIONS, ROUNDS, SECONDS);
    writeRoundsReport({
      file: "compare.md",
      command: `pnpm bench:compare ${revisions.join(" ")}`,
      about: `Each revision's proxy (apps/proxy/src at that commit, built against the current workspace; \`.\` is the working tree's build), run as ${launchLine()} with the default configuration;`,
      firstColumn: "revision",
      candidates,
      runs,
      connections: CONNECTIONS,
      rounds: ROUNDS,
      seconds: SECONDS,
    });
  } finally {
    for (const s of started.reverse()) await s.stop();
    cleanup();
  }
}

await main();
