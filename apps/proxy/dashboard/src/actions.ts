// Changes go through a preview: the proxy answers the same request as a dry
// run with what would move, the page says it in words, and only "Apply"
// sends the change itself.

import { apply, preview, type Change } from "./api.js";
import { byId, el, setText } from "./dom.js";
import { describeMoves, percent } from "./format.js";

export interface Proposer {
  propose(change: Change): void;
  /** Shows a result or an error of some other part of the page. */
  say(text: string, kind: "info" | "error"): void;
}

export function createProposer(serversTakingKeys: () => string[]): Proposer {
  const panel = byId("preview");
  const title = byId("preview-title");
  const text = byId("preview-text");
  const flows = byId("preview-flows");
  const message = byId("message");
  let pending: Change | undefined;

  const say = (words: string, kind: "info" | "error") => {
    message.dataset.kind = kind;
    setText(message, words);
  };
  const close = () => {
    pending = undefined;
    panel.hidden = true;
  };

  byId("preview-cancel").addEventListener("click", close);
  byId("preview-apply").addEventListener("click", async () => {
    const change = pending;
    if (!change) return;
    close();
    try {
      await apply(change);
      say(`Done: ${change.label}.`, "info");
    } catch (error) {
      say(`Could not ${change.label}: ${(error as Error).message}`, "error");
    }
  });

  return {
    say,
    async propose(change) {
      say("", "info");
      try {
        const moves = await preview(change);
        pending = change;
        setText(title, `Preview: ${change.label}`);
        setText(text, describeMoves(moves.moved, moves.flows, serversTakingKeys()));
        flows.replaceChildren(
          ...moves.flows.map((f) =>
            el("li", {}, `${f.from ?? "no server"} → ${f.to ?? "no server"}: ${percent(f.share)}`),
          ),
        );
        panel.hidden = false;
        byId("preview-apply").focus();
      } catch (error) {
        close();
        say(`Could not ${change.label}: ${(error as Error).message}`, "error");
      }
    },
  };
}
