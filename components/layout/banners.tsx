/** Conditions a person must not miss: shown on every console page while they hold. */
export function InstanceBanners({
  isScriptedModel,
  isDevDirectory,
  isDirectoryUnreachable = false,
}: {
  isScriptedModel: boolean;
  isDevDirectory: boolean;
  /** The directory could not be reached to re-check this person's groups. */
  isDirectoryUnreachable?: boolean;
}) {
  if (!isScriptedModel && !isDevDirectory && !isDirectoryUnreachable) return null;
  return (
    <div className="border-b border-amber-300 bg-amber-50 text-amber-900 dark:border-amber-500/30 dark:bg-amber-500/10 dark:text-amber-200">
      <div className="mx-auto flex max-w-7xl flex-col gap-1 px-4 py-2 text-sm sm:px-6">
        {isDirectoryUnreachable ? (
          <p role="alert">
            <strong className="font-semibold">The directory cannot be reached — your roles could not be re-checked.</strong>{" "}
            <span className="text-amber-800 dark:text-amber-300/80">
              You see what the roles it last confirmed allow. Running, cancelling and every other change are refused until it is back.
            </span>
          </p>
        ) : null}
        {isScriptedModel ? (
          <p role="status">
            <strong className="font-semibold">Scripted model — demo answers, no real LLM.</strong>{" "}
            <span className="text-amber-800 dark:text-amber-300/80">Set ANTHROPIC_API_KEY (or ANTHROPIC_BASE_URL) and restart to call a real model.</span>
          </p>
        ) : null}
        {isDevDirectory ? (
          <p>
            <strong className="font-semibold">Development directory in use</strong>{" "}
            <span className="text-amber-800 dark:text-amber-300/80">— demo users stand in for LDAP. Configure LDAP before production use.</span>
          </p>
        ) : null}
      </div>
    </div>
  );
}
