// Certificates are read again, without a restart, on SIGHUP (as nginx and
// HAProxy's master reload on it) and when their files change: the folders
// holding them are watched (a file replaced by a rename, as certbot and
// Kubernetes secrets do, is seen too), and a burst of changes is read once,
// DEBOUNCE_MS after the last. The data plane keeps the set in use when the
// new files are broken, and does nothing when their content is unchanged.

import { watch, type FSWatcher } from "node:fs";
import { dirname } from "node:path";
import type { Logger } from "@stickyring/runtime";
import type { CertificateSources } from "./http/tls/certificates.js";

const DEBOUNCE_MS = 300;

/** Calls `reload` on SIGHUP and when the files change; returns the function that stops it. */
export function watchCertificates(
  sources: CertificateSources,
  reload: (cause: string) => void,
  logger: Logger,
): () => void {
  const folders = new Set<string>();
  if (sources.cert !== undefined) folders.add(dirname(sources.cert));
  if (sources.key !== undefined) folders.add(dirname(sources.key));
  if (sources.dir !== undefined) folders.add(sources.dir);
  if (sources.clientCa !== undefined) folders.add(dirname(sources.clientCa));
  if (sources.clientCrl !== undefined) folders.add(dirname(sources.clientCrl));
  let timer: NodeJS.Timeout | undefined;
  const changed = () => {
    clearTimeout(timer);
    timer = setTimeout(() => reload("file change"), DEBOUNCE_MS);
    timer.unref();
  };
  const watchers: FSWatcher[] = [];
  for (const folder of folders) {
    try {
      const watcher = watch(folder, { persistent: false }, changed);
      watcher.on("error", (error) =>
        logger.warn({ folder, err: error }, "certificate folder no longer watched; SIGHUP reloads"),
      );
      watchers.push(watcher);
    } catch (error) {
      logger.warn({ folder, err: error }, "cannot watch the certificate folder; SIGHUP reloads");
    }
  }
  const hangup = () => reload("SIGHUP");
  process.on("SIGHUP", hangup);
  return () => {
    clearTimeout(timer);
    for (const watcher of watchers) watcher.close();
    process.off("SIGHUP", hangup);
  };
}
