// A real DNS server over UDP on loopback (the dns2 package), with a zone the
// test changes as it goes: A, AAAA and SRV records, answers rotated on every
// query as round-robin name servers do, and names that fail on purpose.

import dns2 from "dns2";

const { Packet } = dns2;

export interface Srv {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

/** What a name answers: records, or a failure. */
export interface Entry {
  a?: string[];
  aaaa?: string[];
  srv?: Srv[];
  /** servfail / refused / nxdomain: that answer; timeout: no answer at all. */
  fails?: "servfail" | "refused" | "nxdomain" | "timeout";
  /** Only the AAAA queries fail so (the A queries answer). */
  aaaaFails?: "servfail" | "timeout";
  /** Only the A queries fail so. */
  aFails?: "servfail" | "timeout";
}

export interface DnsServer {
  /** `127.0.0.1:<port>`, for DNS_SERVERS. */
  readonly address: string;
  /** Names (lower case, no final dot) and what they answer; others are NXDOMAIN. */
  readonly zone: Map<string, Entry>;
  /** Queries received, as "TYPE name". */
  readonly queries: string[];
  close(): Promise<void>;
}

/** A record as dns2 encodes it (its typings want a decoded Resource). */
const record = (fields: object) => fields as InstanceType<typeof Packet.Resource>;

const rotate = <T>(list: readonly T[], by: number): T[] =>
  list.length === 0 ? [] : list.map((_, i) => list[(i + by) % list.length]!);

/**
 * The response written without name compression: dns2 3.1's pointers into
 * an SRV target come out wrong (c-ares answers EBADRESP), and RFC 2782 asks
 * for uncompressed targets anyway.
 */
function uncompressed(response: InstanceType<typeof Packet>): InstanceType<typeof Packet> {
  const encode = Packet.prototype.toBuffer;
  return Object.assign(response, {
    toBuffer: () => {
      const writer = Object.assign(new Packet.Writer(), { names: {} });
      return (encode as (this: unknown, writer: unknown) => Buffer).call(response, writer);
    },
  });
}

export async function startDnsServer(): Promise<DnsServer> {
  const zone = new Map<string, Entry>();
  const queries: string[] = [];
  let served = 0;
  const server = dns2.createServer({
    udp: true,
    handle: (request, send) => {
      const response = Packet.createResponseFromRequest(request);
      const [question] = request.questions;
      const name = question!.name.toLowerCase().replace(/\.$/, "");
      const type = question!.type;
      queries.push(
        `${type === Packet.TYPE.SRV ? "SRV" : type === Packet.TYPE.A ? "A" : type === Packet.TYPE.AAAA ? "AAAA" : type} ${name}`,
      );
      const entry = zone.get(name);
      const fails =
        type === Packet.TYPE.AAAA
          ? (entry?.aaaaFails ?? entry?.fails)
          : type === Packet.TYPE.A
            ? (entry?.aFails ?? entry?.fails)
            : entry?.fails;
      if (fails === "timeout") return;
      if (entry === undefined || entry.fails === "nxdomain") {
        response.header.rcode = Packet.RCODE.NXDOMAIN;
        return send(response);
      }
      if (fails !== undefined) {
        response.header.rcode = fails === "servfail" ? Packet.RCODE.SERVFAIL : Packet.RCODE.REFUSED;
        return send(response);
      }
      const turn = served++;
      const base = { name: question!.name, class: Packet.CLASS.IN, ttl: 1 };
      if (type === Packet.TYPE.A)
        for (const address of rotate(entry.a ?? [], turn))
          response.answers.push(record({ ...base, type: Packet.TYPE.A, address }));
      else if (type === Packet.TYPE.AAAA)
        for (const address of rotate(entry.aaaa ?? [], turn))
          response.answers.push(record({ ...base, type: Packet.TYPE.AAAA, address }));
      else if (type === Packet.TYPE.SRV)
        for (const srv of rotate(entry.srv ?? [], turn))
          response.answers.push(record({ ...base, type: Packet.TYPE.SRV, ...srv }));
      send(uncompressed(response));
    },
  });
  const listening = new Promise<void>((resolve) => server.on("listening", () => resolve()));
  await server.listen({ udp: { port: 0, address: "127.0.0.1" } });
  await listening;
  const { udp } = server.addresses() as { udp: { port: number } };
  return {
    address: `127.0.0.1:${udp.port}`,
    zone,
    queries,
    close: () => server.close(),
  };
}
