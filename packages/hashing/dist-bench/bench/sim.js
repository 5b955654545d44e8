// `pnpm ring:sim -- --servers 3 --keys 1000000 --remove app2 --add app4 --algorithm ring`
// Places the keys, applies the membership change, and prints per server the
// share before and after and how many keys moved: why consistent hashing.
import { parseArgs } from "node:util";
import { ALGORITHMS, createHashRing } from "../src/index.js";
import { countOwners, distinctIPv4 } from "./keys.js";
function fail(message) {
  console.error(`ring:sim: ${message}`);
  process.exit(2);
}
// `pnpm ring:sim -- --flag` hands the script a literal "--" first.
const argv = process.argv.slice(2).filter((arg, i) => !(i === 0 && arg === "--"));
function parse() {
  try {
    return parseArgs({
      args: argv,
      options: {
        servers: { type: "string", default: "3" },
        keys: { type: "string", default: "1000000" },
        remove: { type: "string", multiple: true, default: [] },
        add: { type: "string", multiple: true, default: [] },
        algorithm: { type: "string", default: "ring" },
      },
      allowPositionals: false,
    });
  } catch (error) {
    return fail(error.message);
  }
}
const { values } = parse();
const serverCount = Number(values.servers);
const keyCount = Number(values.keys);
if (!Number.isInteger(serverCount) || serverCount < 1 || serverCount > 1000) {
  fail(`--servers must be an integer from 1 to 1000, got ${values.servers}`);
}
if (!Number.isInteger(keyCount) || keyCount < 1 || keyCount > 10_000_000) {
  fail(`--keys must be an integer from 1 to 10000000, got ${values.keys}`);
}
if (!ALGORITHMS.includes(values.algorithm)) {
  fail(`--algorithm must be one of ${ALGORITHMS.join(", ")}, got ${values.algorithm}`);
}
const algorithm = values.algorithm;
const before = Array.from({ length: serverCount }, (_, i) => `app${i + 1}`);
for (const id of values.remove)
  if (!before.includes(id)) fail(`--remove ${id}: no such server (have ${before.join(", ")})`);
for (const id of values.add) if (before.includes(id)) fail(`--add ${id}: already a server`);
const after = [...before.filter((id) => !values.remove.includes(id)), ...values.add];
if (after.length === 0) fail("the change leaves no server");
const keys = distinctIPv4(keyCount);
const place = (ids) => {
  const ring = createHashRing({ algorithm, servers: ids.map((id) => ({ id })) });
  return keys.map((k) => ring.pick(k));
};
const owners = place(before);
const next = place(after);
const movedOut = new Map();
const movedIn = new Map();
let moved = 0;
for (let i = 0; i < keys.length; i++) {
  if (owners[i] === next[i]) continue;
  moved++;
  movedOut.set(owners[i], (movedOut.get(owners[i]) ?? 0) + 1);
  movedIn.set(next[i], (movedIn.get(next[i]) ?? 0) + 1);
}
const pct = (x) => `${(x * 100).toFixed(2)}%`;
const shareBefore = countOwners(owners);
const shareAfter = countOwners(next);
const ids = [...new Set([...before, ...after])];
console.log(
  `algorithm ${algorithm}, ${keys.length} keys, ${before.length} -> ${after.length} servers\n`,
);
console.log("| server | share before | share after | keys moved out | keys moved in |");
console.log("| --- | ---: | ---: | ---: | ---: |");
for (const id of ids) {
  const b = shareBefore.get(id) ?? 0;
  const a = shareAfter.get(id) ?? 0;
  console.log(
    `| ${id} | ${pct(b / keys.length)} | ${pct(a / keys.length)} | ${movedOut.get(id) ?? 0} | ${movedIn.get(id) ?? 0} |`,
  );
}
// The least any placement can move: the keys of removed servers, plus what
// added servers must take to get their fair share.
const removedShare =
  values.remove.reduce((s, id) => s + (shareBefore.get(id) ?? 0), 0) / keys.length;
const ideal = Math.max(removedShare, values.add.length / after.length);
const maxOverMean = (counts, n) => Math.max(...counts.values()) / (keys.length / n);
console.log(
  `\nmax/mean: ${maxOverMean(shareBefore, before.length).toFixed(4)} before, ${maxOverMean(shareAfter, after.length).toFixed(4)} after`,
);
console.log(
  `moved: ${pct(moved / keys.length)} of keys; ideal ${pct(ideal)}; ratio ${(moved / keys.length / ideal || 0).toFixed(3)}`,
);
