import Link from "next/link";
import { PageHeader } from "../ui/page-header";

const TABS = [
  { id: "versions", label: "Versions", path: "" },
  { id: "new", label: "New version", path: "/new" },
  { id: "diff", label: "Diff", path: "/diff" },
  { id: "compare", label: "Compare", path: "/compare" },
  { id: "history", label: "History", path: "/history" },
] as const;

export type PromptTab = (typeof TABS)[number]["id"] | "version";

export function promptsPath(loopId: string, rest = ""): string {
  return `/loops/${encodeURIComponent(loopId)}/prompts${rest}`;
}

/** The heading every prompt page shares: the loop, its realm, and the prompt tabs. */
export function PromptsHeader({ loopId, realm, current, title, canEdit }: { loopId: string; realm: string; current: PromptTab; title: string; canEdit: boolean }) {
  return (
    <>
      <PageHeader
        eyebrow={
          <>
            <Link href="/loops" className="hover:underline">
              Loops
            </Link>{" "}
            / {realm} /{" "}
            <Link href={`/loops/${encodeURIComponent(loopId)}`} className="font-mono hover:underline">
              {loopId}
            </Link>
          </>
        }
        title={title}
      />
      <nav aria-label="Prompt pages" className="-mt-2 mb-6 flex flex-wrap gap-1 border-b border-zinc-200 dark:border-zinc-800">
        {TABS.filter((tab) => tab.id !== "new" || canEdit).map((tab) => {
          const isCurrent = tab.id === current;
          return (
            <Link
              key={tab.id}
              href={promptsPath(loopId, tab.path)}
              aria-current={isCurrent ? "page" : undefined}
              className={`-mb-px border-b-2 px-3 py-2 text-sm ${
                isCurrent ? "border-indigo-600 font-medium text-zinc-900 dark:text-zinc-100" : "border-transparent text-zinc-600 hover:text-zinc-900 dark:text-zinc-400 dark:hover:text-zinc-100"
              }`}
            >
              {tab.label}
            </Link>
          );
        })}
      </nav>
    </>
  );
}
