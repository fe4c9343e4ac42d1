/**
 * JSON text PostgreSQL's jsonb accepts: NUL and lone UTF-16 surrogates, which jsonb refuses in
 * values and keys, are stored as U+FFFD, the replacement character.
 */
export function storableJson(value: unknown): string;
/** `storableJson`, and whether anything had to be replaced. */
export function toStorableJson(value: unknown): { json: string; replaced: boolean };
/** `value` as `storableJson` would store it: the same value when there is nothing to replace. */
export function storable<T>(value: T): T;
