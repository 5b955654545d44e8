// The dashboard: a snapshot a second from /api/events, drawn as the ring and
// the server cards.

import { createProposer } from "./actions.js";
import { byId, el, setText } from "./dom.js";
import { balanceText, discoveryText } from "./format.js";
import { lookupBox } from "./lookup.js";
import { drawRing, markPosition } from "./ring.js";
import { serverCards } from "./servers.js";
import type { Snapshot } from "../../src/control-plane/views.js";

let latest: Snapshot | undefined;
let drawn = "";
const ring = byId<SVGSVGElement>("ring");
const status = byId("status");

const proposer = createProposer(() =>
  (latest?.servers ?? []).filter((s) => s.share > 0).map((s) => s.id),
);
const cards = serverCards(byId("servers"), proposer.propose);
const followMode = lookupBox((hash) => markPosition(ring, hash));

byId<HTMLFormElement>("add-server").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = new FormData(event.target as HTMLFormElement);
  const id = String(form.get("id") ?? "").trim();
  const weightText = String(form.get("weight") ?? "").trim();
  proposer.propose({
    label: `add ${id}`,
    method: "POST",
    path: "api/servers",
    body: {
      id,
      url: String(form.get("url") ?? "").trim(),
      ...(weightText === "" ? {} : { weight: Number(weightText) }),
    },
  });
});

function render(snapshot: Snapshot): void {
  latest = snapshot;
  setText(
    byId("mode"),
    `${balanceText(snapshot.balance)} · hash-type ${snapshot.hashType}` +
      (snapshot.balanceFactor === null ? "" : ` · balance factor ${snapshot.balanceFactor}`),
  );
  followMode(snapshot.balance);
  byId("discovery").replaceChildren(
    ...snapshot.discovery.map((group) =>
      el(
        "li",
        { "data-status": group.status },
        discoveryText(group, (at) => new Date(at).toLocaleTimeString()),
      ),
    ),
  );
  drawn = drawRing(ring, snapshot, drawn);
  cards(snapshot);
  setText(status, `live · ${new Date(snapshot.at).toLocaleTimeString()}`);
  status.dataset.live = "true";
}

const events = new EventSource("api/events");
events.addEventListener("snapshot", (event) =>
  render(JSON.parse((event as MessageEvent<string>).data)),
);
events.addEventListener("error", () => {
  setText(status, "connection lost, retrying…");
  status.dataset.live = "false";
});
