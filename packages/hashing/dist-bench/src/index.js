export { createHashRing, ALGORITHMS } from "./create.js";
export { MAX_WEIGHT, DEFAULT_WEIGHT } from "./servers.js";
export { sourceKey, parseAddress, formatAddress } from "./address.js";
export { uriKey } from "./uri.js";
export { hashString } from "./hash.js";
export { DEFAULT_POINTS_PER_WEIGHT } from "./ring.js";
export { DEFAULT_MAGLEV_SIZE } from "./maglev.js";
export { haproxySourceHash, haproxyStringHash, crc32 } from "./compat-hashes.js";
