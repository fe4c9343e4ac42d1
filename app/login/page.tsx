import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { LoginForm } from "@/components/auth/login-form";
import { InstanceBanners } from "@/components/layout/banners";
import { auth } from "@/lib/auth/auth";
import { getInstance } from "@/lib/server/instance";
import { param } from "@/lib/server/page";
import { loginAction } from "./actions";

export const metadata: Metadata = { title: "Sign in" };

export default async function LoginPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const session = await auth();
  if (session?.identity) redirect("/loops");
  const next = param((await searchParams).next);
  const instance = await getInstance();
  const isDevDirectory = instance.directory.kind === "dev-directory";
  return (
    <div className="flex min-h-screen flex-col">
      <InstanceBanners isScriptedModel={instance.scriptedModel !== null} isDevDirectory={isDevDirectory} />
      <main className="flex flex-1 items-center justify-center p-6">
        <div className="w-full max-w-sm">
          <div className="mb-8 flex flex-col items-center gap-3 text-center">
            <span aria-hidden className="grid size-10 place-items-center rounded-lg bg-indigo-600 font-mono text-sm text-white">
              LS
            </span>
            <h1 className="text-2xl font-semibold tracking-tight">Sign in to LoopStacks</h1>
            <p className="text-sm text-zinc-600 dark:text-zinc-400">Use your {isDevDirectory ? "development directory" : "directory (LDAP)"} account.</p>
          </div>
          <div className="rounded-lg border border-zinc-200 bg-white p-6 shadow-sm dark:border-zinc-800 dark:bg-zinc-900">
            <LoginForm action={loginAction} next={next} />
          </div>
          {isDevDirectory ? (
            <p className="mt-4 text-center text-xs text-zinc-500">Demo users: ada (admin), mo (maintainer), alice (operator), otto (auditor), vic (viewer) — see the README for their passwords.</p>
          ) : null}
        </div>
      </main>
    </div>
  );
}
