// The admin API, the dashboard and metrics, on their own listener (HAProxy's
// stats socket and stats page).

import express, { type NextFunction, type Request, type Response } from "express";
import { keyspaceMoves, sourceKey } from "@stickyring/hashing";
import { z } from "zod";
import { loopbackHostOnly, requireToken, sameOriginWrites } from "./admin-auth.js";
import { parseBackendUrl, SERVER_ID, weightSchema } from "./servers.js";
import { dashboardAssets, dashboardEvents } from "./dashboard.js";
import { describeServers, type AdminOptions } from "./describe.js";
import { createKeyPolicy } from "../data-plane/key-policy.js";
import { MembershipError, type AdminState, type Membership } from "./membership.js";
import { buildPlacement } from "../data-plane/placement.js";
import type { Lookup, Moves } from "./views.js";

class BadRequest extends Error {}

const MAXCONN_RULE = "expected an integer from 0 (no limit) to 1000000";
const maxconnSchema = z
  .number({ error: MAXCONN_RULE })
  .int(MAXCONN_RULE)
  .min(0, MAXCONN_RULE)
  .max(1_000_000, MAXCONN_RULE);
// Strict: a field the API does not know is refused by name, not ignored
// (an operator who sent one would believe it applied).
const newServer = z.strictObject({
  id: z.string().regex(SERVER_ID, "expected letters, digits, '.', '_' or '-' (at most 64)"),
  url: z.string({ error: "expected a string such as http://10.0.0.7:5001" }),
  weight: weightSchema.default(1),
  maxconn: maxconnSchema.optional(),
});
const weightBody = z.strictObject({ weight: weightSchema });
const maxconnBody = z.strictObject({ maxconn: maxconnSchema });
/** drain, enable, disable: no body, or an empty object. */
const noFields = z.strictObject({});

/** Quotes what was sent, shortened: the message says what was wrong with which value. */
const shown = (input: unknown) => {
  const text = JSON.stringify(input) ?? String(input);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
};

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {}, { reportInput: true });
  if (!parsed.success) {
    // Each message names the field it is about: "weight: expected ... (got 300)".
    const messages = parsed.error.issues.map((i) => {
      const got = i.input === undefined ? "" : ` (got ${shown(i.input)})`;
      return i.path.length > 0 ? `${i.path.join(".")}: ${i.message}${got}` : i.message;
    });
    throw new BadRequest(messages.join("; "));
  }
  return parsed.data;
}

/** A Map, not an object: `constructor` or `__proto__` must not look like an action. */
const ACTIONS = new Map<string, AdminState>([
  ["drain", "drain"],
  ["enable", "ready"],
  ["disable", "maint"],
]);

/** A query parameter given once; repeated, it is refused rather than guessed at. */
const query = (req: Request, name: string) => {
  const value = req.query[name];
  if (value === undefined || typeof value === "string") return value;
  throw new BadRequest(`?${name} given more than once`);
};

/** `?dryRun`: true or false (1 or 0); anything else is refused, never taken as false. */
function dryRun(req: Request): boolean {
  const value = query(req, "dryRun");
  if (value === undefined || value === "false" || value === "0") return false;
  if (value === "true" || value === "1") return true;
  throw new BadRequest(`?dryRun=${shown(value)}: expected true or false`);
}

type Method = "get" | "head" | "post" | "delete";
/** A handler of an endpoint; the paths' parameters are `:id` and `:action`. */
type Handler = express.RequestHandler<{ id: string; action: string }>;

/**
 * An endpoint's handlers by method; any other method gets 405 naming them
 * (RFC 9110 15.5.6), not 404, which would say the endpoint is not there.
 */
function endpoint(
  app: express.Express,
  path: string,
  handlers: Partial<Record<Method, Handler>>,
  /** Whether the path names something there is (an action's name): else 404, not 405. */
  exists: (params: { id: string; action: string }) => boolean = () => true,
): void {
  const route = app.route(path);
  const allow: string[] = [];
  for (const [method, handler] of Object.entries(handlers) as [Method, Handler][]) {
    route[method](handler as express.RequestHandler);
    // Express answers HEAD with the GET handler unless one of its own is given.
    allow.push(...(method === "get" ? ["GET", "HEAD"] : [method.toUpperCase()]));
  }
  const allowed = [...new Set(allow)].join(", ");
  route.all((req, res, next) => {
    if (!exists(req.params as { id: string; action: string })) return next();
    res
      .set("Allow", allowed)
      .status(405)
      .json({ error: `${req.method} not allowed (allowed: ${allowed})` });
  });
}

export function createAdminApp(options: AdminOptions): express.Express {
  const { config, membership, metricsText, placement } = options;
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);

  // Liveness for container health checks: says nothing about the servers.
  endpoint(app, "/healthz", {
    get: (_req, res) => {
      res.json({ status: "ok" });
    },
  });

  const token = config.admin.token;
  app.use(token === undefined ? loopbackHostOnly() : requireToken(token));
  app.use(sameOriginWrites());
  app.use(express.json({ limit: "16kb" }));
  app.use(dashboardAssets());

  endpoint(app, "/metrics", {
    get: async (_req, res) => {
      const { contentType, text } = await metricsText();
      res.type(contentType).send(text);
    },
  });
  endpoint(app, "/api/events", {
    // Before get: Express routes HEAD to the first handler that takes it.
    // The stream's head alone: the GET handler would hold it open as a
    // stream, taking one of the places event streams have.
    head: (_req, res) => {
      res.status(200).type("text/event-stream").set("cache-control", "no-store").end();
    },
    get: dashboardEvents(options),
  });
  // The dashboard's page, served by dashboardAssets above; other methods get 405.
  endpoint(app, "/", { get: (_req, _res, next) => next() });

  /**
   * Applies a change to the servers; with ?dryRun=true applies it to a copy
   * instead and answers what it would move. Either way the same checks run.
   */
  const change = (req: Request, res: Response, apply: (m: Membership) => void, status = 200) => {
    if (dryRun(req)) {
      const copy = membership.copy();
      apply(copy);
      const before = placement();
      const after = buildPlacement(copy.list(), config, before.version);
      const { moved, flows } = keyspaceMoves(before.ring, after.ring);
      const preview: Moves = {
        dryRun: true,
        moved,
        flows: flows.map((f) => ({ from: f.from ?? null, to: f.to ?? null, share: f.share })),
        shares: Object.fromEntries(after.ring.shares()),
      };
      res.json(preview);
      return;
    }
    apply(membership);
    res.status(status).json(describeServers(options));
  };

  endpoint(app, "/api/servers", {
    get: (_req, res) => {
      res.json(describeServers(options));
    },
    post: (req, res) => {
      const body = parseBody(newServer, req.body);
      const url = parseBackendUrl(body.id, body.url);
      if (typeof url === "string") throw new BadRequest(url);
      change(
        req,
        res,
        (m) => {
          m.add({ id: body.id, url, weight: body.weight });
          if (body.maxconn !== undefined) m.setMaxconn(body.id, body.maxconn);
        },
        201,
      );
    },
  });

  endpoint(app, "/api/servers/:id", {
    delete: (req, res) => change(req, res, (m) => m.remove(req.params.id)),
  });

  endpoint(app, "/api/servers/:id/weight", {
    post: (req, res) => {
      const { weight } = parseBody(weightBody, req.body);
      change(req, res, (m) => m.setWeight(req.params.id, weight));
    },
  });

  // HAProxy's `set maxconn server`: requests beyond it wait in the server's queue.
  endpoint(app, "/api/servers/:id/maxconn", {
    post: (req, res) => {
      const { maxconn } = parseBody(maxconnBody, req.body);
      change(req, res, (m) => m.setMaxconn(req.params.id, maxconn));
    },
  });

  endpoint(
    app,
    "/api/servers/:id/:action",
    {
      post: (req, res) => {
        const state = ACTIONS.get(req.params.action);
        if (!state)
          throw new BadRequest(
            `unknown action ${shown(req.params.action)} (expected drain, enable or disable)`,
          );
        parseBody(noFields, req.body);
        change(req, res, (m) => m.setAdmin(req.params.id, state));
      },
    },
    ({ action }) => ACTIONS.has(action),
  );

  // "Where does this client go": the request's parts the balance mode reads
  // (?address=, ?path=, ?header=), or a raw hash key (?key=).
  const keyPolicy = createKeyPolicy(config.balance);
  const lookupKey = (req: Request): string => {
    const raw = query(req, "key");
    if (raw !== undefined) return raw;
    const address = query(req, "address");
    const path = query(req, "path");
    const header = query(req, "header");
    const { balance } = config;
    const wanted =
      balance.kind === "uri"
        ? path === undefined && "?path=/some/path"
        : balance.kind === "hdr"
          ? header === undefined && address === undefined && `?header=<${balance.header} value>`
          : address === undefined && "?address=<ip>";
    if (wanted) throw new BadRequest(`expected ${wanted} (balance ${balance.kind}) or ?key=`);
    let client = "";
    if (address !== undefined) {
      try {
        client = sourceKey(address);
      } catch (error) {
        throw new BadRequest((error as Error).message);
      }
    }
    const headers =
      balance.kind === "hdr" && header !== undefined ? { [balance.header]: header } : {};
    return keyPolicy({ url: path ?? "/", headers }, client);
  };

  endpoint(app, "/api/lookup", {
    get: (req, res) => {
      const key = lookupKey(req);
      const ring = placement().ring;
      const answer: Lookup = { key, hash: ring.hashKey(key), server: ring.pick(key) ?? null };
      res.json(answer);
    },
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
