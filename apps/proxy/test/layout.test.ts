// The source tree is the architecture: http/ (the HTTP/1.1 engine) knows
// nothing of the proxy, data-plane/ (read, route, forward) knows nothing of
// the control plane, control-plane/ (membership, health, admin) nothing of
// the process entry and configuration above it, and no file imports itself
// back through others.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "@jest/globals";

const SRC = fileURLToPath(new URL("../src/", import.meta.url));

/** Lower layers first; a file may import from its own layer and those before it. */
const LAYERS = ["http", "data-plane", "control-plane", "."];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(join(dir, entry.name))
      : entry.name.endsWith(".ts")
        ? [relative(SRC, join(dir, entry.name))]
        : [],
  );
}

/** Relative imports of a file (static, dynamic and type-only), as paths under src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(SRC, file), "utf8");
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)];
  return specifiers.map((m) => {
    const path = normalize(join(dirname(file), m[1]!));
    // `./x.js` names x.ts, or x.d.ts for the declaration files the dashboard shares.
    const declared = path.replace(/\.js$/, ".d.ts");
    return existsSync(join(SRC, declared)) ? declared : path.replace(/\.js$/, ".ts");
  });
}

const layerOf = (file: string) => {
  const top = file.includes("/") ? file.slice(0, file.indexOf("/")) : ".";
  return LAYERS.indexOf(top);
};

const files = sources(SRC);
const graph = new Map(files.map((f) => [f, importsOf(f)]));

describe("apps/proxy/src", () => {
  it("has every file in a known layer and every import resolving to a file", () => {
    for (const [file, imports] of graph) {
      expect(layerOf(file)).toBeGreaterThanOrEqual(0);
      for (const target of imports) expect(files).toContain(target);
    }
  });

  it("imports only downward: http <- data-plane <- control-plane <- entry and config", () => {
    const upward: string[] = [];
    for (const [file, imports] of graph)
      for (const target of imports)
        if (layerOf(target) > layerOf(file)) upward.push(`${file} -> ${target}`);
    expect(upward).toEqual([]);
  });

  it("has no import circle", () => {
    const circles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const walk = (file: string, path: string[]) => {
      if (state.get(file) === "done") return;
      if (state.get(file) === "open") {
        circles.push([...path.slice(path.indexOf(file)), file].join(" -> "));
        return;
      }
      state.set(file, "open");
      for (const target of graph.get(file) ?? []) walk(target, [...path, file]);
      state.set(file, "done");
    };
    for (const file of files) walk(file, []);
    expect(circles).toEqual([]);
  });
});
