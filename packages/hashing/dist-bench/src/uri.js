// The key of HAProxy's `balance uri`, with its options.
function stripAuthority(uri) {
  const scheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.exec(uri);
  if (!scheme) return uri;
  const pathStart = uri.indexOf("/", scheme[0].length);
  if (pathStart >= 0) return uri.slice(pathStart);
  const queryStart = uri.indexOf("?", scheme[0].length);
  return queryStart >= 0 ? uri.slice(queryStart) : "";
}
/**
 * The part of a request URI that `balance uri` hashes. As in HAProxy, `len`
 * bounds how far the URI is read, then reading stops at the first `?` (unless
 * `whole`) or at slash number `depth + 1`, whichever comes first.
 */
export function uriKey(pathAndQuery, options = {}) {
  const uri = options.pathOnly ? stripAuthority(pathAndQuery) : pathAndQuery;
  const limit = options.len && options.len > 0 ? Math.min(options.len, uri.length) : uri.length;
  const depth = options.depth && options.depth > 0 ? options.depth : 0;
  let slashes = 0;
  let end = 0;
  for (; end < limit; end++) {
    const c = uri.charCodeAt(end);
    if (c === 0x2f /* / */) {
      slashes++;
      if (depth > 0 && slashes === depth + 1) break;
    } else if (c === 0x3f /* ? */ && !options.whole) {
      break;
    }
  }
  return uri.slice(0, end);
}
