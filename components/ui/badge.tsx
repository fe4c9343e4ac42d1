import type { ReactNode } from "react";

const TONES = {
  neutral: "bg-zinc-100 text-zinc-700 dark:bg-zinc-800 dark:text-zinc-300",
  llm: "bg-violet-100 text-violet-800 dark:bg-violet-500/15 dark:text-violet-300",
  mcp: "bg-teal-100 text-teal-800 dark:bg-teal-500/15 dark:text-teal-300",
  http: "bg-orange-100 text-orange-800 dark:bg-orange-500/15 dark:text-orange-300",
} as const;

export type BadgeTone = keyof typeof TONES;

export function Badge({ children, tone = "neutral", title }: { children: ReactNode; tone?: BadgeTone; title?: string }) {
  return (
    <span title={title} className={`inline-flex items-center rounded px-1.5 py-0.5 font-mono text-[11px] font-medium ${TONES[tone]}`}>
      {children}
    </span>
  );
}

export function TypeBadge({ type }: { type: "llm" | "mcp" | "http" }) {
  return <Badge tone={type}>{type}</Badge>;
}
