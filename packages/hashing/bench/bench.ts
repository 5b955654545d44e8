// `pnpm bench`: @stickyring/hashing side by side with the npm packages
// `hashring` and `consistent-hash`, in one run, on 1,000,000 distinct IPv4
// keys and 3 servers. Prints a markdown table and writes bench/results.md.

import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createHashRing, type Algorithm } from "../src/index.js";
import { countOwners, distinctIPv4, movedBetweenSurvivors, movedFraction } from "./keys.js";

const require = createRequire(import.meta.url);
const HashRingLib = require("hashring") as new (servers: string[]) => {
  get(key: string): string;
  add(server: string): void;
  remove(server: string): void;
};
const ConsistentHashLib = require("consistent-hash") as new () => {
  get(key: string): string;
  add(node: string): void;
  remove(node: string): void;
};

const KEYS = Number(process.env.BENCH_KEYS ?? 1_000_000);
const PASSES = 5;
const keys = distinctIPv4(KEYS);
const three = ["app1", "app2", "app3"];

type Pick = (key: string) => string | undefined;

interface Candidate {
  name: string;
  /** A picker for these server ids. */
  build(ids: string[]): Pick;
  /**
   * Picks before and after one membership change, made the way a user of the
   * library makes it: our tables are rebuilt from the new set, the npm
   * libraries are mutated in place.
   */
  change(ids: string[], remove?: string, add?: string): [Pick, Pick];
}

const ours = (algorithm: Algorithm): Candidate => {
  const build = (ids: string[]) =>
    createHashRing({ algorithm, servers: ids.map((id) => ({ id })) }).pick;
  return {
    name: `@stickyring/hashing ${algorithm}`,
    build,
    change: (ids, remove, add) => [
      build(ids),
      build([...ids.filter((id) => id !== remove), ...(add ? [add] : [])]),
    ],
  };
};

interface MutableRing {
  get(key: string): string;
  add(id: string): void;
  remove(id: string): void;
}

const mutable = (name: string, make: (ids: string[]) => MutableRing): Candidate => ({
  name,
  build: (ids) => {
    const ring = make(ids);
    return (key) => ring.get(key);
  },
  change: (ids, remove, add) => {
    const ring = make(ids);
    const before = keys.map((k) => ring.get(k));
    if (remove) ring.remove(remove);
    if (add) ring.add(add);
    return [(key) => before[keyIndex.get(key)!], (key) => ring.get(key)];
  },
});

const keyIndex = new Map(keys.map((k, i) => [k, i]));

const candidates: Candidate[] = [
  ours("ring"),
  ours("maglev"),
  ours("modulo"),
  mutable("hashring 3.2.0 (ketama, md5)", (ids) => new HashRingLib(ids)),
  // Its points come from Math.random: the same servers give another
  // placement in every process, so two proxy replicas would disagree.
  mutable("consistent-hash 1.2.2", (ids) => {
    const ring = new ConsistentHashLib();
    for (const id of ids) ring.add(id);
    return ring;
  }),
];

/** Median ns per pick over PASSES timed passes, after one untimed pass. */
function nsPerPick(pick: (key: string) => string | undefined): number {
  let sink = 0;
  const run = (): number => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < keys.length; i++) sink += pick(keys[i]!)!.length;
    return Number(process.hrtime.bigint() - start) / keys.length;
  };
  run();
  const times = Array.from({ length: PASSES }, run).sort((a, b) => a - b);
  if (sink === 0) throw new Error("unreachable: keeps the loop from being optimised away");
  return times[Math.floor(PASSES / 2)]!;
}

function buildMs(candidate: Candidate, servers: number): number {
  const ids = Array.from({ length: servers }, (_, i) => `server-${i + 1}`);
  const start = performance.now();
  candidate.build(ids);
  return performance.now() - start;
}

function measure(candidate: Candidate): string {
  const pick = candidate.build(three);
  const owners = keys.map(pick);
  const counts = countOwners(owners);
  const maxOverMean = Math.max(...counts.values()) / (keys.length / 3);
  const [beforeRemove, afterRemove] = candidate.change(three, "app2");
  const removedFrom = keys.map(beforeRemove);
  const removed = keys.map(afterRemove);
  const [beforeAdd, afterAdd] = candidate.change(three, undefined, "app4");
  const added = keys.map(afterAdd);
  const addedFrom = keys.map(beforeAdd);
  const ns = nsPerPick(pick);
  const ideal = (countOwners(removedFrom).get("app2")! / keys.length) * 100;
  const row = [
    candidate.name,
    ns.toFixed(1),
    maxOverMean.toFixed(4),
    `${(movedFraction(removedFrom, removed) * 100).toFixed(2)}% (ideal ${ideal.toFixed(2)}%)`,
    String(movedBetweenSurvivors(removedFrom, removed, new Set(["app1", "app3"]))),
    `${(movedFraction(addedFrom, added) * 100).toFixed(2)}% (ideal 25%)`,
    buildMs(candidate, 100).toFixed(1),
  ];
  return `| ${row.join(" | ")} |`;
}

// Each candidate runs in a fresh process: otherwise whichever runs first
// leaves the JIT's feedback shaped for it, and a proxy only ever runs one.
const only = process.argv[2];
if (only !== undefined) {
  console.log(measure(candidates[Number(only)]!));
  process.exit(0);
}
const rows = candidates.map((candidate, i) => {
  const child = spawnSync(process.execPath, [process.argv[1]!, String(i)], { encoding: "utf8" });
  if (child.status !== 0) throw new Error(`${candidate.name} failed: ${child.stderr}`);
  console.error(`done: ${candidate.name}`);
  return child.stdout.trim();
});

const header = [
  "| library | ns per pick | max/mean load | moved when app2 is removed | keys moved between survivors | moved when app4 is added | build, 100 servers (ms) |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
];
const report = [
  `Command: \`pnpm --filter @stickyring/hashing bench\` (${keys.length.toLocaleString("en")} distinct IPv4 keys, 3 servers, median of ${PASSES} passes, Node ${process.version}, ${new Date().toISOString().slice(0, 10)})`,
  "",
  ...header,
  ...rows,
  "",
].join("\n");
console.log(report);
writeFileSync(new URL("../../bench/results.md", import.meta.url), report);
