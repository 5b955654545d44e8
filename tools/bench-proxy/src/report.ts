// The benchmark's markdown table and SVG chart.

export interface Row {
  candidate: string;
  connections: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  peakRssMb: number;
  /** CPU time the proxy (all its processes) spent per request, microseconds. */
  cpuUsPerRequest: number;
  errors: number;
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en", { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function markdown(rows: Row[], reference: string, header: string): string {
  const lines = [
    header,
    "",
    "| connections | proxy | requests/s (median) | vs HAProxy | p50 | p99 | p99 vs HAProxy | CPU per request | vs HAProxy | peak RSS | errors |",
    "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const row of rows) {
    const ref = rows.find((r) => r.connections === row.connections && r.candidate === reference)!;
    lines.push(
      `| ${row.connections} | ${row.candidate} | ${fmt(row.requestsPerSecond)} | ${fmt(row.requestsPerSecond / ref.requestsPerSecond, 2)} x | ${fmt(row.p50Ms, 2)} ms | ${fmt(row.p99Ms, 2)} ms | ${fmt(row.p99Ms / ref.p99Ms, 2)} x | ${fmt(row.cpuUsPerRequest, 1)} µs | ${fmt(row.cpuUsPerRequest / ref.cpuUsPerRequest, 2)} x | ${fmt(row.peakRssMb)} MB | ${row.errors} |`,
    );
  }
  return lines.join("\n") + "\n";
}

const COLOURS = ["#6b7280", "#2563eb", "#f59e0b", "#10b981", "#db2777"];

/** Grouped bars: requests/s per proxy, one group per connection count. */
export function svgChart(rows: Row[], title: string): string {
  const candidates = [...new Set(rows.map((r) => r.candidate))];
  const groups = [...new Set(rows.map((r) => r.connections))];
  const max = Math.max(...rows.map((r) => r.requestsPerSecond));
  const width = 760;
  const height = 360;
  const left = 70;
  const bottom = 300;
  const plotHeight = 240;
  const groupWidth = (width - left - 20) / groups.length;
  const barWidth = (groupWidth - 30) / candidates.length;
  const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="24" font-size="15" font-weight="bold">${escape(title)}</text>`,
  ];
  for (let t = 0; t <= 4; t++) {
    const value = (max * t) / 4;
    const y = bottom - (plotHeight * t) / 4;
    parts.push(`<line x1="${left}" x2="${width - 20}" y1="${y}" y2="${y}" stroke="#e5e7eb"/>`);
    parts.push(
      `<text x="${left - 8}" y="${y + 4}" text-anchor="end">${fmt(value / 1000, 0)}k</text>`,
    );
  }
  groups.forEach((connections, g) => {
    const x0 = left + g * groupWidth + 15;
    candidates.forEach((candidate, c) => {
      const row = rows.find((r) => r.candidate === candidate && r.connections === connections);
      if (!row) return;
      const h = (plotHeight * row.requestsPerSecond) / max;
      parts.push(
        `<rect x="${x0 + c * barWidth}" y="${bottom - h}" width="${barWidth - 4}" height="${h}" fill="${COLOURS[c % COLOURS.length]}"><title>${escape(candidate)}: ${fmt(row.requestsPerSecond)} req/s</title></rect>`,
      );
    });
    parts.push(
      `<text x="${x0 + (candidates.length * barWidth) / 2}" y="${bottom + 18}" text-anchor="middle">${connections} connections</text>`,
    );
  });
  candidates.forEach((candidate, c) => {
    const x = left + c * 170;
    parts.push(
      `<rect x="${x}" y="${bottom + 32}" width="12" height="12" fill="${COLOURS[c % COLOURS.length]}"/>`,
    );
    parts.push(`<text x="${x + 18}" y="${bottom + 42}">${escape(candidate)}</text>`);
  });
  parts.push(
    `<text x="16" y="${bottom - plotHeight / 2}" transform="rotate(-90 16 ${bottom - plotHeight / 2})" text-anchor="middle">requests/s</text>`,
  );
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}
