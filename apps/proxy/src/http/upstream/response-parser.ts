// The response parser: llhttp in strict mode (../llhttp.ts), so a response
// that could smuggle a second one past the proxy is refused instead of relayed.

import { MessageFields, Parser, createParser } from "../llhttp.js";

export interface ParserEvents {
  /** A message begins (its first byte). */
  onBegin(): void;
  /** The head is complete; return true when the response cannot have a body (HEAD). */
  onHead(
    status: number,
    statusMessage: string,
    rawHeaders: string[],
    upgrade: boolean,
    keepAlive: boolean,
  ): boolean;
  onBody(chunk: Buffer): void;
  /** The message is complete; `trailers`: the fields after a chunked body, if any. */
  onComplete(trailers: string[] | undefined): void;
}

export interface ResponseParser {
  /** Feeds bytes read from the server; an Error when they are not valid HTTP/1.1. */
  execute(data: Buffer): Error | undefined;
  /** The server closed its side: ends a body read to EOF, or an Error when a message is cut short. */
  finish(): Error | undefined;
  /** The connection is closed: the native parser's memory goes back at once. */
  close(): void;
}

export function createResponseParser(events: ParserEvents): ResponseParser {
  const parser = createParser(Parser.RESPONSE);
  const fields = new MessageFields();
  parser[Parser.kOnMessageBegin] = () => events.onBegin();
  parser[Parser.kOnHeaders] = (headers: string[]) => fields.add(headers, undefined);
  parser[Parser.kOnHeadersComplete] = (
    _major: number,
    _minor: number,
    headers: string[] | undefined,
    _method: unknown,
    _url: unknown,
    status: number,
    statusMessage: string,
    upgrade: boolean,
    keepAlive: boolean,
  ) => {
    const raw = fields.head(headers);
    // 1: llhttp reads no body for this response.
    return events.onHead(status, statusMessage, raw, upgrade, keepAlive) ? 1 : 0;
  };
  parser[Parser.kOnBody] = (chunk: Buffer) => events.onBody(chunk);
  parser[Parser.kOnMessageComplete] = () => events.onComplete(fields.end());
  return {
    execute(data) {
      const result = parser.execute(data);
      return typeof result === "number" ? undefined : result;
    },
    close() {
      parser.close();
    },
    finish() {
      const result = parser.finish();
      return result instanceof Error ? result : undefined;
    },
  };
}
