// The admin API and metrics, on their own listener (HAProxy's stats socket).

import { createHash, timingSafeEqual } from "node:crypto";
import express, { type NextFunction, type Request, type Response } from "express";
import { sourceKey } from "@stickyring/hashing";
import { z } from "zod";
import { parseBackendUrl, SERVER_ID, weightSchema, type ProxyConfig } from "./config.js";
import { MembershipError, type AdminState, type Membership } from "./membership.js";
import type { Metrics } from "./metrics.js";
import type { Placement } from "./placement.js";

export interface AdminOptions {
  config: ProxyConfig;
  membership: Membership;
  metrics: Metrics;
  placement: () => Placement;
}

class BadRequest extends Error {}

const digest = (text: string) => createHash("sha256").update(text).digest();

/** Compares hashes of equal length so the time taken says nothing about the token. */
function tokenMatches(header: string | undefined, expected: Buffer): boolean {
  const match = /^Bearer (.+)$/.exec(header ?? "");
  return match !== null && timingSafeEqual(digest(match[1]!), expected);
}

const newServer = z.object({
  id: z.string().regex(SERVER_ID, "expected letters, digits, '.', '_' or '-' (at most 64)"),
  url: z.string({ error: "expected a string such as http://10.0.0.7:5001" }),
  weight: weightSchema.default(1),
});
const weightBody = z.object({ weight: weightSchema });

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) {
    // Each message names the field it is about: "weight: expected ...".
    const messages = parsed.error.issues.map((i) =>
      i.path.length > 0 ? `${i.path.join(".")}: ${i.message}` : i.message,
    );
    throw new BadRequest(messages.join("; "));
  }
  return parsed.data;
}

const ACTIONS: Record<string, AdminState> = { drain: "drain", enable: "ready", disable: "maint" };

export function describeServers({ config, membership, placement }: AdminOptions) {
  const current = placement();
  const shares = current.ring.shares();
  return {
    balance: config.balance,
    hashType: config.hashType,
    balanceFactor: config.balanceFactor ?? null,
    placementVersion: current.version,
    servers: membership.list().map((m) => ({
      id: m.id,
      url: m.url.origin,
      weight: m.weight,
      state: m.admin,
      health: m.up ? "up" : "down",
      inPlacement: current.targets.has(m.id),
      share: shares.get(m.id) ?? 0,
      requests: m.requests,
      inFlight: membership.inFlight.get(m.id) ?? 0,
      checks: m.history,
    })),
  };
}

export function createAdminApp(options: AdminOptions): express.Express {
  const { config, membership, metrics, placement } = options;
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);

  // Liveness for container health checks: says nothing about the servers.
  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });

  const token = config.admin.token;
  if (token !== undefined) {
    const expected = digest(token);
    app.use((req, res, next) => {
      if (tokenMatches(req.get("authorization"), expected)) return next();
      res
        .status(401)
        .set("www-authenticate", 'Bearer realm="stickyring"')
        .json({ error: "missing or wrong bearer token" });
    });
  }
  app.use(express.json({ limit: "16kb" }));

  app.get("/metrics", async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.get("/api/servers", (_req, res) => {
    res.json(describeServers(options));
  });

  app.post("/api/servers", (req, res) => {
    const body = parseBody(newServer, req.body);
    const url = parseBackendUrl(body.id, body.url);
    if (typeof url === "string") throw new BadRequest(url);
    membership.add({ id: body.id, url, weight: body.weight });
    res.status(201).json(describeServers(options));
  });

  app.delete("/api/servers/:id", (req, res) => {
    membership.remove(req.params.id);
    res.json(describeServers(options));
  });

  app.post("/api/servers/:id/weight", (req, res) => {
    membership.setWeight(req.params.id, parseBody(weightBody, req.body).weight);
    res.json(describeServers(options));
  });

  app.post("/api/servers/:id/:action", (req, res) => {
    const state = ACTIONS[req.params.action];
    if (!state)
      throw new BadRequest(
        `unknown action "${req.params.action}" (expected drain, enable or disable)`,
      );
    membership.setAdmin(req.params.id, state);
    res.json(describeServers(options));
  });

  // "Where does this client go": by address (source mode) or by raw key.
  app.get("/api/lookup", (req, res) => {
    const { address, key } = req.query;
    let lookupKey: string;
    if (typeof address === "string") {
      try {
        lookupKey = sourceKey(address);
      } catch (error) {
        throw new BadRequest((error as Error).message);
      }
    } else if (typeof key === "string") {
      lookupKey = key;
    } else {
      throw new BadRequest("expected ?address=<ip> or ?key=<hash key>");
    }
    const ring = placement().ring;
    res.json({
      key: lookupKey,
      hash: ring.hashKey(lookupKey),
      server: ring.pick(lookupKey) ?? null,
    });
  });

  app.use((_req, res) => {
    res.status(404).json({ error: "no such admin endpoint" });
  });

  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof MembershipError)
      return void res.status(error.status).json({ error: error.message });
    if (error instanceof BadRequest) return void res.status(400).json({ error: error.message });
    const status = (error as { status?: number }).status;
    if (status !== undefined && status >= 400 && status < 500) {
      return void res.status(status).json({ error: (error as Error).message });
    }
    res.status(500).json({ error: "internal error" });
  });

  return app;
}
