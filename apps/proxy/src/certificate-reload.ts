// Certificates are read again, without a restart, on SIGHUP (as nginx and
// HAProxy's master reload on it) and when their files change: the folders
// holding them are watched (a file replaced by a rename, as certbot and
// Kubernetes secrets do, is seen too), and a burst of changes is read once,
// DEBOUNCE_MS after the last. The data plane keeps the set in use when the
// new files are broken, and does nothing when their content is unchanged.

import { watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";
import type { Logger } from "@stickyring/runtime";
import type { CertificateSources } from "./http/tls/certificates.js";

const DEBOUNCE_MS = 300;

/** Calls `reload` on SIGHUP and when the files change; returns the function that stops it. */
export function watchCertificates(
  sources: CertificateSources,
  reload: (cause: string) => void,
  logger: Logger,
): () => void {
  // Each folder with the names in it whose change is one of the files':
  // its own files', or any for a TLS_CERTS folder. Another file there (a log
  // the proxy writes, an editor's swap file) would reload at every write.
  const folders = new Map<string, Set<string> | "any">();
  const file = (path: string | undefined) => {
    if (path === undefined) return;
    const names = folders.get(dirname(path));
    if (names === "any") return;
    if (names === undefined) folders.set(dirname(path), new Set([basename(path)]));
    else names.add(basename(path));
  };
  if (sources.dir !== undefined) folders.set(sources.dir, "any");
  // The certificate's OCSP response (`<cert>.ocsp`) is one of its files: a
  // job that fetches a fresh one counts on the reload.
  const ocsp = sources.cert === undefined ? undefined : `${sources.cert}.ocsp`;
  for (const path of [sources.cert, ocsp, sources.key, sources.clientCa, sources.clientCrl])
    file(path);
  let timer: NodeJS.Timeout | undefined;
  const changed = () => {
    clearTimeout(timer);
    timer = setTimeout(() => reload("file change"), DEBOUNCE_MS);
    timer.unref();
  };
  const watchers: FSWatcher[] = [];
  for (const [folder, names] of folders) {
    const onEvent = (_event: string, name: string | null) => {
      // No name: the platform cannot tell which file, so any may be ours.
      // Kubernetes swaps a mounted secret's files in at once through its
      // "..data" link: a change to a name starting with ".." is one of ours.
      if (names === "any" || name === null || names.has(name) || name.startsWith("..")) changed();
    };
    try {
      const watcher = watch(folder, { persistent: false }, onEvent);
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
