// Validation of the server list, shared by every placement algorithm.

export interface ServerSpec {
  /** Stable identity of the server. Placement depends on it, never on list order. */
  id: string;
  /**
   * 0..256 as in HAProxy; 0 drains the server (it takes no keys). Default 1.
   * Fractions are for a weight on its way up (a slow start): a point
   * placement gives the server the first ceil(weight x points per weight)
   * of its points, so raising the weight moves keys only onto it.
   */
  weight?: number;
  /**
   * Algorithm `haproxy` only: HAProxy's numeric server id (its `id` keyword).
   * Default: the position in `servers`, from 1, as HAProxy numbers servers in
   * declaration order; this algorithm alone depends on that order.
   */
  numericId?: number;
  /** Algorithm `nginx` only: the server as written in nginx's upstream block (`10.0.0.7:5001`). Default: `id`. */
  address?: string;
}

export interface Server {
  readonly id: string;
  readonly weight: number;
  /** HAProxy's numeric id: as given, else the position in the list given, from 1. */
  readonly numericId: number;
  /** The server as nginx's upstream block writes it: as given, else the id. */
  readonly address: string;
}

export const MAX_WEIGHT = 256;

/**
 * Points a server of `weight` owns: a fractional weight rounds up, so a
 * server whose weight is above 0 always owns one.
 */
export const pointCount = (weight: number, perWeight: number): number =>
  Math.ceil(weight * perWeight);
export const DEFAULT_WEIGHT = 1;
/** Server indexes are stored in 16-bit typed arrays; 0xffff marks "no server". */
export const MAX_SERVERS = 0xfffe;

function describe(spec: unknown, index: number): string {
  const id = (spec as { id?: unknown } | null)?.id;
  return typeof id === "string" && id !== "" ? `server "${id}"` : `server at index ${index}`;
}

/**
 * Checks the list and returns it sorted by id. Sorting by identity is what
 * makes two processes given the same servers in any order build the same
 * table (Envoy and HAProxy `hash-key id` do the same).
 */
export function normalizeServers(specs: readonly ServerSpec[]): readonly Server[] {
  if (!Array.isArray(specs)) throw new TypeError("servers must be an array of { id, weight? }");
  if (specs.length > MAX_SERVERS) {
    throw new TypeError(
      `servers: at most ${MAX_SERVERS} servers are supported, got ${specs.length}`,
    );
  }
  const seen = new Set<string>();
  const servers: Server[] = [];
  specs.forEach((spec, index) => {
    if (spec === null || typeof spec !== "object") {
      throw new TypeError(`server at index ${index} must be an object { id, weight? }`);
    }
    const { id, weight = DEFAULT_WEIGHT } = spec;
    if (typeof id !== "string" || id === "") {
      throw new TypeError(`${describe(spec, index)}: id must be a non-empty string`);
    }
    if (seen.has(id)) throw new TypeError(`server "${id}": duplicate id (ids must be unique)`);
    seen.add(id);
    if (typeof weight !== "number" || !(weight >= 0 && weight <= MAX_WEIGHT)) {
      throw new TypeError(
        `server "${id}": weight must be a number from 0 to ${MAX_WEIGHT}, got ${String(weight)}`,
      );
    }
    const { numericId, address } = spec;
    if (
      numericId !== undefined &&
      (!Number.isInteger(numericId) || numericId < 1 || numericId > 1_000_000)
    ) {
      throw new TypeError(
        `server "${id}": numericId must be an integer from 1 to 1000000, got ${String(numericId)}`,
      );
    }
    if (address !== undefined && (typeof address !== "string" || address === "")) {
      throw new TypeError(
        `server "${id}": address must be a non-empty string such as 10.0.0.7:5001`,
      );
    }
    servers.push(
      Object.freeze({ id, weight, numericId: numericId ?? index + 1, address: address ?? id }),
    );
  });
  servers.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return Object.freeze(servers);
}
