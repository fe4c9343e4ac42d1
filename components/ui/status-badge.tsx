import type { FrameStatus } from "@/lib/runtime/types";

const STYLES: Record<FrameStatus, string> = {
  succeeded: "bg-emerald-50 text-emerald-700 ring-emerald-600/20 dark:bg-emerald-500/10 dark:text-emerald-300 dark:ring-emerald-400/30",
  failed: "bg-red-50 text-red-700 ring-red-600/20 dark:bg-red-500/10 dark:text-red-300 dark:ring-red-400/30",
  denied: "bg-amber-50 text-amber-800 ring-amber-600/30 dark:bg-amber-500/10 dark:text-amber-300 dark:ring-amber-400/30",
  running: "bg-sky-50 text-sky-700 ring-sky-600/20 dark:bg-sky-500/10 dark:text-sky-300 dark:ring-sky-400/30",
  queued: "bg-zinc-100 text-zinc-700 ring-zinc-500/20 dark:bg-zinc-500/10 dark:text-zinc-300 dark:ring-zinc-400/30",
  cancelled: "bg-zinc-100 text-zinc-600 ring-zinc-500/20 dark:bg-zinc-500/10 dark:text-zinc-400 dark:ring-zinc-400/30",
};

const DOT: Record<FrameStatus, string> = {
  succeeded: "bg-emerald-500",
  failed: "bg-red-500",
  denied: "bg-amber-500",
  running: "bg-sky-500 animate-pulse",
  queued: "bg-zinc-400",
  cancelled: "bg-zinc-400",
};

export function StatusBadge({ status }: { status: FrameStatus }) {
  return (
    <span className={`inline-flex items-center gap-1.5 rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${STYLES[status] ?? STYLES.queued}`}>
      <span aria-hidden className={`size-1.5 rounded-full ${DOT[status] ?? DOT.queued}`} />
      {status}
    </span>
  );
}
