import Link from "next/link";
import { can, type Actor } from "@/lib/services/actor";
import { buttonClass } from "../ui/styles";
import { NAV_ITEMS } from "./nav-items";
import { NavLinks } from "./nav-links";

export function AppHeader({ actor, signOut }: { actor: Actor; signOut: () => Promise<void> }) {
  const items = NAV_ITEMS.filter((item) => !item.requires || actor.roles.some((r) => can(actor, item.requires!, r.realm))).map(({ href, label }) => ({
    href,
    label,
  }));
  const roles = [...new Set(actor.roles.map((r) => `${r.role} · ${r.realm}`))].sort();
  const name = actor.identity.displayName || actor.identity.subject;
  return (
    <header className="border-b border-zinc-200 bg-white dark:border-zinc-800 dark:bg-zinc-900">
      <div className="mx-auto flex h-14 max-w-7xl items-center gap-6 px-4 sm:px-6">
        <Link href="/loops" className="flex items-center gap-2 font-semibold tracking-tight">
          <span aria-hidden className="grid size-7 place-items-center rounded-md bg-indigo-600 font-mono text-xs text-white">
            LS
          </span>
          LoopStacks
        </Link>
        <nav aria-label="Main" className="flex-1">
          <NavLinks items={items} />
        </nav>
        <div className="flex items-center gap-3">
          <div className="hidden text-right sm:block">
            <div className="text-sm font-medium" data-testid="user-name">
              {name}
            </div>
            <div className="text-xs text-zinc-500 dark:text-zinc-400" aria-label="Your roles">
              {roles.length > 0 ? roles.join(", ") : "no role in any realm"}
            </div>
          </div>
          <form action={signOut}>
            <button type="submit" className={buttonClass.secondary}>
              Sign out
            </button>
          </form>
        </div>
      </div>
    </header>
  );
}
