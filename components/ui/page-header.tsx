import type { ReactNode } from "react";
import { visibleControls } from "./format";

export function PageHeader({ title, description, actions, eyebrow }: { title: ReactNode; description?: ReactNode; actions?: ReactNode; eyebrow?: ReactNode }) {
  return (
    <div className="mb-6 flex flex-wrap items-end justify-between gap-4">
      <div className="min-w-0">
        {eyebrow ? <div className="mb-1 text-sm text-zinc-500 dark:text-zinc-400">{eyebrow}</div> : null}
        <h1 className="truncate text-2xl font-semibold tracking-tight">{title}</h1>
        {description ? (
          // A long word (a URL, an id) wraps instead of widening the page.
          <p className="mt-1 text-sm text-zinc-600 [overflow-wrap:anywhere] dark:text-zinc-400">{typeof description === "string" ? visibleControls(description) : description}</p>
        ) : null}
      </div>
      {actions ? <div className="flex items-center gap-2">{actions}</div> : null}
    </div>
  );
}
