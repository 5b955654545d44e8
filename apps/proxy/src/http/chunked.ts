// Chunked transfer coding (RFC 9112 7.1), written the same way to servers
// (request bodies of unknown length) and to clients (answers of unknown length).

/** The line ahead of each chunk. */
export function chunkHeader(length: number): string {
  return `${length.toString(16)}\r\n`;
}

/** A chunked body ends with an empty chunk and no trailers. */
export const LAST_CHUNK = "0\r\n\r\n";

/** The last chunk with trailer fields (a flat [name, value, ...] list, already checked). */
export function lastChunk(trailers: readonly string[]): string {
  let text = "0\r\n";
  for (let i = 0; i < trailers.length; i += 2) text += `${trailers[i]}: ${trailers[i + 1]}\r\n`;
  return `${text}\r\n`;
}
