export { createStickyProxy, type StickyProxy } from "./proxy.js";
export { loadConfig, ConfigError, type ProxyConfig } from "./config.js";
