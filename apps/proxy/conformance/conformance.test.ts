// The differential conformance suite: every case runs through stickyring and
// through HAProxy 2.6 (beforeAll, in lanes); each test then judges one case:
// stickyring against the case's expected outcome and the reuse probes, and
// against HAProxy's outcome unless the case explains why they differ.

import { writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { CASES } from "./cases/index.js";
import { account, judge, normalise } from "./judge.js";
import { runCases, startLane, stopLane, type Lane, type Results } from "./run.js";

const LANES = 4;

let lanes: Lane[] = [];
let results: Results = new Map();

beforeAll(async () => {
  lanes = await Promise.all([
    ...Array.from({ length: LANES }, () => startLane()),
    ...(CASES.some((c) => c.dualStack) ? [startLane(true)] : []),
  ]);
  results = await runCases(CASES, lanes);
}, 115_000);

afterAll(async () => {
  await Promise.all(lanes.map(stopLane));
  const report = process.env.CONFORMANCE_REPORT;
  if (report) {
    const rows = CASES.map((c) => {
      const r = results.get(c.name);
      if (!r) return { name: c.name, missing: true };
      return {
        name: c.name,
        problems: judge(c, r.stickyring),
        differsFromHaproxy: c.differsFromHaproxy,
        haproxyProblems: judge(c, r.haproxy),
        stickyring: normalise(r.stickyring),
        haproxy: normalise(r.haproxy),
        stickyringAccount: account(r.stickyring),
        haproxyAccount: account(r.haproxy),
        ms: [Math.round(r.stickyring.ms), Math.round(r.haproxy.ms)],
      };
    });
    writeFileSync(report, JSON.stringify(rows, null, 1));
  }
});

describe("HTTP conformance: stickyring against RFC 9110/9112 and HAProxy 2.6", () => {
  it("has at least 150 cases, each named once", () => {
    const names = new Set(CASES.map((c) => c.name));
    if (names.size !== CASES.length) throw new Error("duplicate case names");
    if (CASES.length < 150) throw new Error(`only ${CASES.length} cases`);
  });

  for (const c of CASES) {
    it(c.name, () => {
      const r = results.get(c.name);
      if (!r) throw new Error("the case did not run");
      const problems = judge(c, r.stickyring).map((p) => `  - ${p}`);
      const sticky = normalise(r.stickyring);
      const haproxy = normalise(r.haproxy);
      const same = JSON.stringify(sticky) === JSON.stringify(haproxy);
      if (!same && c.differsFromHaproxy === undefined)
        problems.push(
          "  - stickyring and HAProxy differ, and the case says nothing of it:",
          `    stickyring: ${JSON.stringify(sticky)}`,
          `    haproxy:    ${JSON.stringify(haproxy)}`,
        );
      if (problems.length > 0)
        throw new Error(
          [
            `stickyring fails "${c.name}":`,
            ...problems,
            "stickyring:",
            account(r.stickyring),
            `haproxy${c.differsFromHaproxy ? ` (differs by design: ${c.differsFromHaproxy})` : ""}:`,
            account(r.haproxy),
          ].join("\n"),
        );
    });
  }
});
