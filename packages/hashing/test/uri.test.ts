import { describe, expect, it } from "@jest/globals";
import { uriKey } from "../src/uri.js";

// Cases follow the `balance uri` section of HAProxy's configuration manual:
// the query string is excluded unless `whole`; `len` counts characters from
// the start; `depth` counts directory levels, one per slash; when both are
// given, the first limit reached stops the key; `path-only` drops the scheme
// and authority of an absolute URI.
describe("uriKey", () => {
  it.each<[string, Parameters<typeof uriKey>[1], string]>([
    ["/", {}, "/"],
    ["/images/logo.png", {}, "/images/logo.png"],
    ["/cart?user=7&item=3", {}, "/cart"],
    ["/cart?user=7&item=3", { whole: true }, "/cart?user=7&item=3"],
    ["/a/b/c/d.html", { depth: 1 }, "/a"],
    ["/a/b/c/d.html", { depth: 2 }, "/a/b"],
    ["/a/b/c/d.html", { depth: 3 }, "/a/b/c"],
    ["/a/b/c/d.html", { depth: 9 }, "/a/b/c/d.html"],
    ["/a/b?x=/y/z", { depth: 3 }, "/a/b"],
    ["/a/b?x=/y/z", { depth: 3, whole: true }, "/a/b?x=/y"],
    ["/abcdefgh", { len: 4 }, "/abc"],
    ["/ab?cdefgh", { len: 6 }, "/ab"],
    ["/ab?cdefgh", { len: 6, whole: true }, "/ab?cd"],
    ["/a/b/c/d", { len: 5, depth: 3 }, "/a/b/"],
    ["/a/b/c/d", { len: 99, depth: 2 }, "/a/b"],
    ["http://shop.example:8080/cart/items?x=1", { pathOnly: true }, "/cart/items"],
    ["https://shop.example?x=1", { pathOnly: true, whole: true }, "?x=1"],
    ["http://shop.example/cart", {}, "http://shop.example/cart"],
    ["/cart", { pathOnly: true }, "/cart"],
    ["", {}, ""],
  ])("%s with %j -> %s", (uri, options, expected) => {
    expect(uriKey(uri, options)).toBe(expected);
  });
});
