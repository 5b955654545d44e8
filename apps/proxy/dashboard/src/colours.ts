// One colour per server, by its numeric id: stable while the page is open
// and across reloads, whatever the order of the list.

const PALETTE = [
  "#2563eb",
  "#16a34a",
  "#db2777",
  "#ea580c",
  "#7c3aed",
  "#0891b2",
  "#ca8a04",
  "#be123c",
  "#4d7c0f",
  "#9333ea",
];
export const GREY = "#cbd5e1";
export const EMPTY = "#f1f5f9";

export function colourOf(numericId: number): string {
  return PALETTE[(numericId - 1) % PALETTE.length]!;
}
