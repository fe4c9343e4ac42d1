"use server";

import { AuthError } from "next-auth";
import { unstable_rethrow } from "next/navigation";
import { z } from "zod";
import { signIn } from "@/lib/auth/auth";
import { loginErrorMessage } from "./messages";

export interface LoginState {
  error: string | null;
}

const loginFormSchema = z.object({
  username: z.string().max(256),
  password: z.string().max(1024),
  next: z.string().max(2_000).optional(),
});

/** Only paths of this console: an absolute or protocol-relative URL would be an open redirect. */
function safeNext(next: string | undefined): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\") || next.startsWith("/login")) return "/loops";
  return next;
}

export async function loginAction(_previous: LoginState, formData: FormData): Promise<LoginState> {
  const parsed = loginFormSchema.safeParse({ username: formData.get("username"), password: formData.get("password"), next: formData.get("next") ?? undefined });
  if (!parsed.success) return { error: loginErrorMessage(undefined) };
  try {
    await signIn("credentials", { username: parsed.data.username, password: parsed.data.password, redirectTo: safeNext(parsed.data.next) });
    return { error: null };
  } catch (error) {
    unstable_rethrow(error);
    if (error instanceof AuthError) {
      const code = (error as AuthError & { code?: string }).code;
      return { error: loginErrorMessage(code) };
    }
    console.error("Sign-in failed:", error);
    return { error: "Signing in failed on the server. Try again; if it keeps failing, check the server log." };
  }
}
