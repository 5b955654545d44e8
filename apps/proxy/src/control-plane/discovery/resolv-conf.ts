// The search rules of /etc/resolv.conf (resolv.conf(5)), which node:dns's
// resolve*() calls do not apply themselves: c-ares' ares_query asks for the
// name exactly as given. Pure, so the rules can be tested without a system.

export interface SearchRules {
  /** Domains appended to a name with fewer than `ndots` dots, in order. */
  search: string[];
  /** A name with at least this many dots is tried as given first (default 1). */
  ndots: number;
}

/** The `search` (or `domain`) and `options ndots:` lines; the last of each wins, as in glibc. */
export function parseResolvConf(text: string): SearchRules {
  const rules: SearchRules = { search: [], ndots: 1 };
  for (const line of text.split("\n")) {
    const [keyword, ...values] = line
      .replace(/[#;].*$/, "")
      .trim()
      .split(/\s+/);
    if (keyword === "search" || keyword === "domain")
      rules.search = values.map((v) => v.replace(/\.$/, "")).filter((v) => v !== "");
    else if (keyword === "options")
      for (const option of values) {
        const ndots = /^ndots:(\d+)$/.exec(option);
        if (ndots) rules.ndots = Math.min(15, Number(ndots[1]));
      }
  }
  return rules;
}

/**
 * The names to ask for, in order: a name ending in a dot as it is; one with
 * at least `ndots` dots as given, then with each search domain; a shorter
 * one with each search domain first, then as given (as glibc and c-ares'
 * ares_search do). Kubernetes pods (`ndots:5`, search
 * `<ns>.svc.cluster.local ...`) find `_http._tcp.web` this way.
 */
export function candidateNames(name: string, rules: SearchRules): string[] {
  if (name.endsWith(".")) return [name.slice(0, -1)];
  const searched = rules.search.map((domain) => `${name}.${domain}`);
  const dots = name.split(".").length - 1;
  return dots >= rules.ndots ? [name, ...searched] : [...searched, name];
}
