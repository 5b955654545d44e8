// The hash policy: which part of a request is the key.

import { uriKey } from "@stickyring/hashing";
import type { Headers } from "../http/downstream/request.js";
import type { Balance } from "./policy.js";

export type { Balance };

/** The request's key; the admin lookup passes a request of its own making. */
export type KeyPolicy = (req: { url?: string; headers: Headers }, client: string) => string;

export function createKeyPolicy(balance: Balance): KeyPolicy {
  switch (balance.kind) {
    case "source":
      return (_req, client) => client;
    case "uri": {
      const options = {
        whole: balance.whole,
        len: balance.len,
        depth: balance.depth,
        pathOnly: balance.pathOnly,
      };
      return (req) => uriKey(req.url ?? "/", options);
    }
    case "hdr": {
      // Without the header, fall back to the client address: requests
      // still stick, where HAProxy would fall back to round robin.
      const name = balance.header;
      return (req, client) => {
        const value = req.headers[name];
        const text = Array.isArray(value) ? value.join(",") : value;
        return text === undefined || text === "" ? client : text;
      };
    }
  }
}
