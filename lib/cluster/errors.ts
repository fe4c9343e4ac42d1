/**
 * A failure of the database or the queue rather than of the loop being run. It never becomes
 * a frame's outcome: the step fails as a whole and is retried (on any worker), because what
 * it was doing is still to be done.
 */
export class InfrastructureError extends Error {
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = "InfrastructureError";
  }
}

export function isInfrastructureError(error: unknown): error is InfrastructureError {
  return error instanceof InfrastructureError;
}

/** The same object whose every method reports its failures as infrastructure failures. */
export function asInfrastructure<T extends object>(target: T): T {
  return new Proxy(target, {
    get(object, key, receiver) {
      const value: unknown = Reflect.get(object, key, receiver);
      if (typeof value !== "function") return value;
      return async (...args: unknown[]) => {
        try {
          return await (value as (...a: unknown[]) => unknown).apply(object, args);
        } catch (error) {
          throw error instanceof InfrastructureError ? error : new InfrastructureError(error);
        }
      };
    },
  });
}
