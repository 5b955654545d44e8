// What goes on the wire to a server ahead of the body: pure, so the exact
// bytes can be tested without a socket.

/**
 * The request line and headers. `headers` is a flat [name, value, ...] list
 * of end-to-end headers whose names and values llhttp has already checked
 * on the way in. A body whose length is unknown (it came chunked) is
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
