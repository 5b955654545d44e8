// What goes on the wire to a server ahead of the body: pure, so the exact
// bytes can be tested without a socket.

/**
 * The request line and headers. `headers` is a flat [name, value, ...] list
 * of end-to-end headers whose names and values Node's parser has already
 * checked on the way in. A body whose length is unknown (it came chunked) is
 * sent chunked; one with a Content-Length keeps it.
 */
export function requestHead(
  method: string,
  target: string,
  headers: readonly string[],
  chunked: boolean,
): string {
  let head = `${method} ${target} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  if (chunked) head += "transfer-encoding: chunked\r\n";
  return `${head}\r\n`;
}

/** The line ahead of each chunk of a chunked body. */
export function chunkHeader(length: number): string {
  return `${length.toString(16)}\r\n`;
}

/** A chunked body ends with an empty chunk and no trailers. */
export const LAST_CHUNK = "0\r\n\r\n";

/** `http://host/p?q` (absolute-form) to what an origin server expects (`/p?q`). */
export function originForm(target: string): string {
  if (target.charCodeAt(0) === 47 /* / */) return target;
  try {
    const url = new URL(target);
    return url.pathname + url.search;
  } catch {
    return `/${target}`;
  }
}
