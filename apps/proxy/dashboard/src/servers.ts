// One card per server: state, weight, keyspace and traffic shares, a
// sparkline of requests/s, the latest health checks, and the actions.
// Cards are made once and updated in place, so typing a weight survives
// the updates that arrive every second.

import { serverPath, type Change } from "./api.js";
import { colourOf } from "./colours.js";
import { el, setText, svg } from "./dom.js";
import { percent, rate, sourceText, stateOf } from "./format.js";
import type { ServerView, Snapshot } from "../../src/control-plane/views.js";

/** Three minutes of the per-second history. */
const SPARK_POINTS = 180;

interface Card {
  root: HTMLElement;
  update(server: ServerView, snapshot: Snapshot, totalRate: number, peakRate: number): void;
}

const lastRate = (rates: readonly number[] | undefined) => rates?.[rates.length - 1] ?? 0;

function stat(label: string): [HTMLElement, HTMLElement] {
  const value = el("dd");
  return [el("div", {}, el("dt", {}, label), value), value];
}

function createCard(id: string, propose: (change: Change) => void): Card {
  const badge = el("span", { class: "badge" });
  const swatch = el("span", { class: "swatch", "aria-hidden": "true" });
  const url = el("p", { class: "url" });
  const [weightBox, weightValue] = stat("weight");
  const [shareBox, shareValue] = stat("keys");
  const [rateBox, rateValue] = stat("req/s");
  const [trafficBox, trafficValue] = stat("traffic");
  const [flightBox, flightValue] = stat("in flight");
  const [queueBox, queueValue] = stat("queued");
  const line = svg("polyline", { fill: "none", "stroke-width": 1.5 });
  const spark = svg(
    "svg",
    { class: "spark", viewBox: `0 0 ${SPARK_POINTS} 30`, preserveAspectRatio: "none" },
    line,
  );
  const checks = el("ol", { class: "checks", "aria-label": "latest health checks, newest last" });

  const button = (label: string, change: Change, extra = "") => {
    const node = el(
      "button",
      { type: "button", class: extra, "data-action": label.toLowerCase() },
      label,
    );
    node.addEventListener("click", () => propose(change));
    return node;
  };
  const action = (verb: string): Change => ({
    label: `${verb} ${id}`,
    method: "POST",
    path: serverPath(id, verb),
  });
  const drain = button("Drain", action("drain"));
  const disable = button("Disable", action("disable"));
  const enable = button("Enable", action("enable"));
  const remove = button(
    "Remove",
    { label: `remove ${id}`, method: "DELETE", path: serverPath(id) },
    "danger",
  );
  const weightInput = el("input", {
    type: "number",
    min: "0",
    max: "256",
    step: "1",
    "aria-label": `new weight for ${id}`,
  });
  const setWeight = el("button", { type: "submit", "data-action": "weight" }, "Set weight");
  const weightForm = el("form", { class: "weight" }, weightInput, setWeight);

  weightForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const weight = Number(weightInput.value);
    propose({
      label: `set the weight of ${id} to ${weightInput.value}`,
      method: "POST",
      path: serverPath(id, "weight"),
      body: { weight: weightInput.value.trim() === "" ? null : weight },
    });
  });

  const root = el(
    "article",
    { class: "server", "data-server": id },
    el("header", {}, swatch, el("h2", {}, id), badge),
    url,
    el("dl", { class: "stats" }, weightBox, shareBox, rateBox, trafficBox, flightBox, queueBox),
    spark,
    checks,
    el("div", { class: "actions" }, drain, disable, enable, remove, weightForm),
  );

  return {
    root,
    update(server, snapshot, totalRate, peakRate) {
      const state = stateOf(server);
      root.dataset.state = state;
      root.style.setProperty("--colour", colourOf(server.numericId));
      setText(badge, state);
      setText(url, `${server.url} · ${sourceText(server)}`);
      // A slow start (SLOWSTART) shows how far the server is on its way to its weight.
      setText(
        weightValue,
        server.rampPercent < 100
          ? `${server.weight} (warming, ${server.rampPercent}%)`
          : String(server.weight),
      );
      setText(shareValue, percent(server.share));
      const rates = snapshot.traffic.rates[server.id] ?? [];
      const now = lastRate(rates);
      setText(rateValue, rate(now));
      setText(trafficValue, totalRate > 0 ? percent(now / totalRate) : "-");
      // Against its maxconn when it has one: requests sent (queued ones wait apart).
      const sent = server.inFlight - server.queued;
      setText(flightValue, server.maxconn > 0 ? `${sent} / ${server.maxconn}` : String(sent));
      setText(queueValue, String(server.queued));
      root.dataset.queued = String(server.queued);
      root.dataset.requests = String(server.requests);
      if (document.activeElement !== weightInput) weightInput.value = String(server.weight);

      const recent = rates.slice(-SPARK_POINTS);
      const offset = SPARK_POINTS - recent.length;
      const scale = peakRate > 0 ? 28 / peakRate : 0;
      line.setAttribute(
        "points",
        recent.map((r, i) => `${offset + i},${(29 - r * scale).toFixed(1)}`).join(" "),
      );

      checks.replaceChildren(
        ...server.checks.slice(-20).map((c) =>
          el("li", {
            class: c.ok ? "ok" : "failed",
            title: `${new Date(c.at).toLocaleTimeString()} ${c.ok ? "passed" : "failed"}: ${c.detail}`,
          }),
        ),
      );
      drain.hidden = server.state === "drain";
      disable.hidden = server.state === "maint";
      enable.hidden = server.state === "ready";
      // A server DNS found leaves when DNS no longer names it.
      remove.hidden = server.source !== "static";
    },
  };
}

/** Keeps one card per server in `container`, in the order the proxy lists them. */
export function serverCards(container: HTMLElement, propose: (change: Change) => void) {
  const cards = new Map<string, Card>();
  return (snapshot: Snapshot) => {
    const ids = new Set(snapshot.servers.map((s) => s.id));
    for (const [id, card] of cards)
      if (!ids.has(id)) {
        card.root.remove();
        cards.delete(id);
      }
    const current = snapshot.servers.map((s) => lastRate(snapshot.traffic.rates[s.id]));
    const total = current.reduce((a, b) => a + b, 0);
    const peak = Math.max(
      1,
      ...Object.values(snapshot.traffic.rates).flatMap((r) => r.slice(-SPARK_POINTS)),
    );
    snapshot.servers.forEach((server, i) => {
      let card = cards.get(server.id);
      if (!card) cards.set(server.id, (card = createCard(server.id, propose)));
      if (container.children[i] !== card.root)
        container.insertBefore(card.root, container.children[i] ?? null);
      card.update(server, snapshot, total, peak);
    });
  };
}
