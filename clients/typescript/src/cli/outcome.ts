import { LitStreamError } from '../index.js';

/** A call's answer, or the gRPC error it failed with (anything else is a bug and still throws). */
export type Outcome<T> = { readonly value: T } | { readonly error: LitStreamError };

export async function outcome<T>(call: Promise<T>): Promise<Outcome<T>> {
  try {
    return { value: await call };
  } catch (error) {
    if (error instanceof LitStreamError) return { error };
    throw error;
  }
}
