// Who may use the admin listener. A token, when set, is accepted as a bearer
// token (scripts) or as the password of HTTP Basic auth (browsers, which can
// attach nothing else to the dashboard's event stream). Browsers also get two
// guards a script never trips: no cross-site writes (CSRF), and without a
// token no host name but loopback's (DNS rebinding).

import { createHash, timingSafeEqual } from "node:crypto";
import type { NextFunction, Request, Response } from "express";

type Middleware = (req: Request, res: Response, next: NextFunction) => void;

const digest = (text: string) => createHash("sha256").update(text).digest();

/** The secret offered, from `Bearer <token>` or `Basic base64(<any user>:<token>)`. */
function offeredSecret(header: string | undefined): string | undefined {
  const match = /^(Bearer|Basic) +(\S+)$/i.exec(header ?? "");
  if (!match) return undefined;
  if (match[1]!.toLowerCase() === "bearer") return match[2];
  const decoded = Buffer.from(match[2]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon < 0 ? undefined : decoded.slice(colon + 1);
}

/** Compares hashes of equal length so the time taken says nothing about the token. */
export function requireToken(token: string): Middleware {
  const expected = digest(token);
  return (req, res, next) => {
    const offered = offeredSecret(req.get("authorization"));
    if (offered !== undefined && timingSafeEqual(digest(offered), expected)) return next();
    res
      .status(401)
      .set("www-authenticate", ['Bearer realm="stickyring"', 'Basic realm="stickyring"'])
      .json({ error: "missing or wrong bearer token" });
  };
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Refuses writes a browser sends on behalf of another site. */
export function sameOriginWrites(): Middleware {
  return (req, res, next) => {
    if (SAFE_METHODS.has(req.method)) return next();
    const origin = req.get("origin");
    const crossSite = req.get("sec-fetch-site") === "cross-site";
    if (crossSite || (origin !== undefined && !sameHost(origin, req.get("host")))) {
      res.status(403).json({ error: "cross-origin admin request refused" });
      return;
    }
    next();
  };
}

function sameHost(origin: string, host: string | undefined): boolean {
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

const LOOPBACK_HOST = /^(localhost|[a-z0-9-]+\.localhost|127(\.\d{1,3}){3}|\[::1\])(:\d+)?$/i;

/** Without a token, only loopback names: a page on another site cannot rebind its name to us. */
export function loopbackHostOnly(): Middleware {
  return (req, res, next) => {
    if (LOOPBACK_HOST.test(req.get("host") ?? "")) return next();
    res.status(403).json({
      error:
        "admin without ADMIN_TOKEN answers only to a loopback Host (localhost, 127.0.0.1, [::1])",
    });
  };
}
