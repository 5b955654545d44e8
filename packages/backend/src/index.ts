export { createBackend, type BackendOptions } from "./app.js";
export { readBackendConfig, type BackendConfig } from "./config.js";
export { attachWebSocketEcho } from "./websocket.js";
export { runBackend } from "./run.js";
