/**
 * Reads asked for in the same turn of the event loop, answered together: `readAll` receives
 * every request made since the last batch and returns one answer per request, in order. The
 * child frames of one model turn are dispatched together, so their reads become one query.
 * Nothing is cached: every answer comes from a read started after it was asked.
 */
export function batchPerTick<Request, Answer>(readAll: (requests: Request[]) => Promise<Answer[]>): (request: Request) => Promise<Answer> {
  let waiting: { request: Request; resolve(answer: Answer): void; reject(error: unknown): void }[] = [];

  function flush(): void {
    const batch = waiting;
    waiting = [];
    Promise.resolve()
      .then(() => readAll(batch.map((w) => w.request)))
      .then(
        (answers) => batch.forEach((w, i) => w.resolve(answers[i]!)),
        (error: unknown) => {
          for (const w of batch) w.reject(error);
        },
      );
  }

  return (request) =>
    new Promise((resolve, reject) => {
      if (waiting.length === 0) setImmediate(flush);
      waiting.push({ request, resolve, reject });
    });
}
