// The response parser: llhttp in strict mode (../llhttp.ts), so a response
// that could smuggle a second one past the proxy is refused instead of relayed.

import { Parser, createParser } from "../llhttp.js";

export interface ParserEvents {
  /** The head is complete; return true when the response cannot have a body (HEAD). */
  onHead(
    status: number,
    statusMessage: string,
    rawHeaders: string[],
    upgrade: boolean,
    keepAlive: boolean,
  ): boolean;
  onBody(chunk: Buffer): void;
  onComplete(): void;
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
  // llhttp hands over headers early when there are many of them or they
  // span several reads; they are gathered here until the head completes.
  let early: string[] = [];
  parser[Parser.kOnHeaders] = (headers: string[]) => {
    for (const field of headers) early.push(field);
  };
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
    let raw = headers;
    if (early.length > 0) {
      raw = headers ? early.concat(headers) : early;
      early = [];
    }
    // 1: llhttp reads no body for this response.
    return events.onHead(status, statusMessage, raw ?? [], upgrade, keepAlive) ? 1 : 0;
  };
  parser[Parser.kOnBody] = (chunk: Buffer) => events.onBody(chunk);
  parser[Parser.kOnMessageComplete] = () => events.onComplete();
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
