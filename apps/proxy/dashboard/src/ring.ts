// The placement drawn as two rings. Outer: where each key belongs, every
// server at its configured weight; a server that takes no traffic now is
// grey there. Inner: where each key goes now. 0 is at the top, clockwise.

import { colourOf, EMPTY, GREY } from "./colours.js";
import { svg } from "./dom.js";
import { stateOf } from "./format.js";
import type { Arc, Snapshot } from "../../src/control-plane/views.js";

const OUTER = [100, 80] as const;
const INNER = [76, 60] as const;

const point = (fraction: number, radius: number) => {
  const angle = fraction * 2 * Math.PI - Math.PI / 2;
  return `${(radius * Math.cos(angle)).toFixed(3)} ${(radius * Math.sin(angle)).toFixed(3)}`;
};

/** An annulus sector; a whole turn is drawn as two halves (an arc cannot end where it starts). */
function sector(from: number, to: number, [outer, inner]: readonly [number, number]): string {
  if (to - from >= 1) return `${sector(0, 0.5, [outer, inner])} ${sector(0.5, 1, [outer, inner])}`;
  const large = to - from > 0.5 ? 1 : 0;
  return (
    `M ${point(from, outer)} A ${outer} ${outer} 0 ${large} 1 ${point(to, outer)} ` +
    `L ${point(to, inner)} A ${inner} ${inner} 0 ${large} 0 ${point(from, inner)} Z`
  );
}

function arcs(
  list: readonly Arc[],
  radii: readonly [number, number],
  ring: "home" | "live",
  fill: (server: string | null) => string,
): SVGGElement {
  const group = svg("g", { class: `ring-${ring}` });
  for (const arc of list) {
    const path = svg("path", { d: sector(arc.from, arc.to, radii), fill: fill(arc.server) });
    if (arc.server !== null) path.setAttribute("data-server", arc.server);
    group.append(path);
  }
  return group;
}

/** Draws the rings when the placement or a server's state changed; returns the new key. */
export function drawRing(root: SVGSVGElement, snapshot: Snapshot, drawn: string): string {
  const key = `${snapshot.ring.version}|${snapshot.servers.map((s) => `${s.id}:${stateOf(s)}`).join(",")}`;
  if (key === drawn) return drawn;
  const byId = new Map(snapshot.servers.map((s) => [s.id, s]));
  const colour = (greyUnlessUp: boolean) => (id: string | null) => {
    const server = id === null ? undefined : byId.get(id);
    if (!server) return EMPTY;
    return greyUnlessUp && stateOf(server) !== "up" ? GREY : colourOf(server.numericId);
  };
  const marker = root.querySelector(".lookup-marker");
  root.replaceChildren(
    arcs(snapshot.ring.home, OUTER, "home", colour(true)),
    arcs(snapshot.ring.live, INNER, "live", colour(false)),
    svg("text", { class: "ring-label", x: 0, y: -4, "text-anchor": "middle" }, snapshot.hashType),
    svg(
      "text",
      { class: "ring-label small", x: 0, y: 12, "text-anchor": "middle" },
      `v${snapshot.placementVersion}`,
    ),
  );
  if (marker) root.append(marker);
  return key;
}

/** Marks a key's position (a 32-bit hash) across both rings. */
export function markPosition(root: SVGSVGElement, hash: number | undefined): void {
  root.querySelector(".lookup-marker")?.remove();
  if (hash === undefined) return;
  const fraction = hash / 2 ** 32;
  const [x, y] = point(fraction, OUTER[0] + 6).split(" ");
  root.append(
    svg(
      "g",
      { class: "lookup-marker" },
      svg("path", { d: `M ${point(fraction, INNER[1] - 4)} L ${point(fraction, OUTER[0] + 4)}` }),
      svg("circle", { cx: x!, cy: y!, r: 3.5 }),
    ),
  );
}
