// Preloaded (--import) by engine-fallback.test.ts: this Node then looks like
// a release without the llhttp binding in `_http_common` (DEP0199), while
// node:http, loaded first, keeps the parser it already holds.
import "node:http";

process.getBuiltinModule("_http_common").HTTPParser = undefined;
