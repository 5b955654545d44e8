// Which HTTP engine serves the proxy port: `fast` (the proxy's own HTTP/1.1
// server and client on Node's llhttp binding, http/downstream/ and
// http/upstream/) or `express` (node:http with an Express app, node:http's
// client; http/express-engine/), each a server for the proxy port and a
// client to the servers, under the same data plane. The fast engine reaches
// the binding through `_http_common`, which Node has deprecated (DEP0199):
// when it, or a method the engine needs, is missing, the express engine
// serves instead and says so once.

import type { Logger } from "@stickyring/runtime";
import type { ServerHandlers } from "../http/downstream/connection.js";
import { socketProblem } from "../http/downstream/connection.js";
import {
  createHttpServer,
  type HttpServer,
  type HttpServerOptions,
} from "../http/downstream/server.js";
import { createExpressServer, type PortServer } from "../http/express-engine/server.js";
import { createNodeUpstream } from "../http/express-engine/upstream.js";
import { llhttpProblem } from "../http/llhttp.js";
import type { Upstream, UpstreamOptions } from "../http/upstream/exchange.js";
import { createUpstream } from "../http/upstream/pool.js";

export type EngineName = "fast" | "express";

export const ENGINES: readonly EngineName[] = ["fast", "express"];

/** Why the fast engine cannot run on this Node, or undefined when it can. */
export function fastEngineProblem(
  common: unknown = process.getBuiltinModule("_http_common"),
): string | undefined {
  return llhttpProblem(common) ?? socketProblem();
}

/**
 * The engine to run: the one asked for, or express when fast was asked for
 * and `problem()` (fastEngineProblem unless a test hands in another) finds
 * it cannot run, with a warning naming why.
 */
export function chooseEngine(
  requested: EngineName,
  logger: Logger,
  problem: () => string | undefined = fastEngineProblem,
): EngineName {
  if (requested !== "fast") return requested;
  const why = problem();
  if (why === undefined) return "fast";
  logger.warn(
    { engine: "express", requested },
    `HTTP_ENGINE=fast cannot run: ${why}; serving with the express engine (node:http)`,
  );
  return "express";
}

export type EngineServer =
  { engine: "fast"; http: HttpServer } | { engine: "express"; http: PortServer };

export function createEngineServer(
  engine: EngineName,
  handlers: ServerHandlers,
  options: HttpServerOptions,
): EngineServer {
  return engine === "fast"
    ? { engine, http: createHttpServer(handlers, options) }
    : { engine, http: createExpressServer(handlers, options) };
}

export function createEngineUpstream(
  engine: EngineName,
  options: UpstreamOptions,
  maxIdle: number,
): Upstream {
  return engine === "fast"
    ? createUpstream(options, maxIdle)
    : createNodeUpstream(options, maxIdle);
}
