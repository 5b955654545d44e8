// The request-target (RFC 9112 3.2): what the request line names, turned
// into what the proxy forwards. Pure, so every form can be tested alone.

export type Target =
  /** `path` as the client sent it; `authority` when it came in absolute form. */
  | { path: string; authority: string | undefined }
  /** Not a target this proxy forwards: answer with this status. */
  | { refused: 400 };

const ABSOLUTE = /^https?:\/\//i;
/** host [":" port]: a registered name or an IP literal (RFC 3986 3.2.2), never empty. */
const AUTHORITY = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=-]+)(?::[0-9]*)?$/;

/**
 * Origin form (`/p?q`) is kept byte for byte; so is the path of an
 * absolute-form target (`http://host:port/p?q`, RFC 9112 3.2.2), which
 * also names the authority that must replace Host. No normalisation: a
 * server that decodes `%2e%2e` or `\` sees what the client sent, as it
 * would with no proxy in between. Asterisk form is OPTIONS' alone.
 */
export function readTarget(method: string, url: string): Target {
  // A fragment is the client's alone: no request-target carries one (RFC 9112 3.2).
  if (url.includes("#")) return BAD;
  if (url.charCodeAt(0) === 47 /* / */) return { path: url, authority: undefined };
  if (url === "*") return method === "OPTIONS" ? { path: url, authority: undefined } : BAD;
  if (!ABSOLUTE.test(url)) return BAD;
  const start = url.indexOf("//") + 2;
  let end = start;
  while (end < url.length && url[end] !== "/" && url[end] !== "?") end++;
  const authority = url.slice(start, end);
  // A host and an optional port, no userinfo (RFC 9110 4.2.4), as a Host field would be.
  if (!AUTHORITY.test(authority)) return BAD;
  const rest = url.slice(end);
  // An OPTIONS for the server as a whole reaches it in asterisk form (RFC 9112 3.2.4).
  if (rest === "" && method === "OPTIONS") return { path: "*", authority };
  return { path: rest === "" ? "/" : rest[0] === "?" ? `/${rest}` : rest, authority };
}

const BAD = { refused: 400 } as const;
