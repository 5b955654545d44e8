// "Where does this client go": asks the proxy (which reads the key as the
// balance mode does) and marks the key's position on the ring.

import { lookup } from "./api.js";
import { byId, setText } from "./dom.js";
import type { Balance } from "../../src/data-plane/policy.js";

const FIELDS: Record<Balance["kind"], { param: string; label: string; placeholder: string }> = {
  source: { param: "address", label: "Client address", placeholder: "10.1.2.3 or 2001:db8::7" },
  uri: { param: "path", label: "Request path", placeholder: "/cart/42" },
  hdr: { param: "header", label: "Header value", placeholder: "user-1234" },
};

export function lookupBox(onPosition: (hash: number | undefined) => void) {
  const form = byId<HTMLFormElement>("lookup");
  const input = byId<HTMLInputElement>("lookup-input");
  const label = byId("lookup-label");
  const result = byId("lookup-result");
  let field = FIELDS.source;

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = input.value.trim();
    try {
      const answer = await lookup({ [field.param]: value });
      const around = ((answer.hash / 2 ** 32) * 100).toFixed(1);
      result.dataset.server = answer.server ?? "";
      setText(
        result,
        `${value} → ${answer.server ?? "no server"} (position ${answer.hash}, ${around}% round the ring)`,
      );
      onPosition(answer.hash);
    } catch (error) {
      result.dataset.server = "";
      setText(result, (error as Error).message);
      onPosition(undefined);
    }
  });

  /** Follows the balance mode: the box asks for what the proxy hashes. */
  return (balance: Balance) => {
    const next = FIELDS[balance.kind];
    if (next === field && input.placeholder !== "") return;
    field = next;
    setText(label, balance.kind === "hdr" ? `${balance.header} header value` : next.label);
    input.placeholder = next.placeholder;
  };
}
