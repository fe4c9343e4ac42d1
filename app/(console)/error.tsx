"use client";

import { buttonClass } from "@/components/ui/styles";

export default function ConsoleError({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <div role="alert" className="mx-auto max-w-lg rounded-lg border border-red-200 bg-red-50 p-6 dark:border-red-500/30 dark:bg-red-500/10">
      <h1 className="text-lg font-semibold text-red-800 dark:text-red-200">This page could not be loaded</h1>
      <p className="mt-2 text-sm text-red-700 dark:text-red-300">
        The server hit an error. Try again; if it keeps happening, the server log has the details
        {error.digest ? (
          <>
            {" "}
            (reference <code className="font-mono">{error.digest}</code>)
          </>
        ) : null}
        .
      </p>
      <button type="button" onClick={reset} className={`${buttonClass.secondary} mt-4`}>
        Try again
      </button>
    </div>
  );
}
