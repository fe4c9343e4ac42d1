import type { ReactNode } from "react";
import { AppHeader } from "@/components/layout/app-header";
import { InstanceBanners } from "@/components/layout/banners";
import { areGroupsUnconfirmed, requireActor } from "@/lib/server/actor";
import { getInstance } from "@/lib/server/instance";
import { signOutAction } from "./actions";

export default async function ConsoleLayout({ children }: { children: ReactNode }) {
  const actor = await requireActor({ onAnonymous: "redirect" });
  const instance = await getInstance();
  const isDirectoryUnreachable = await areGroupsUnconfirmed();
  return (
    <div className="flex min-h-screen flex-col">
      <AppHeader actor={actor} signOut={signOutAction} />
      <InstanceBanners
        isScriptedModel={instance.scriptedModel !== null}
        isDevDirectory={instance.directory.kind === "dev-directory"}
        isDirectoryUnreachable={isDirectoryUnreachable}
      />
      <main className="mx-auto w-full max-w-7xl flex-1 px-4 py-8 sm:px-6">{children}</main>
    </div>
  );
}
