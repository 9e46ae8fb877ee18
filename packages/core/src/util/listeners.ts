/** Listeners called in turn with each value; one that throws stops neither the others nor the caller. */
export interface Listeners<T> {
  /** Adds a listener; returns a function that removes it. */
  add(listener: (value: T) => void): () => void;
  /** Calls every listener with `value`. */
  emit(value: T): void;
}

/** Makes an empty {@link Listeners} set. */
export function listeners<T>(): Listeners<T> {
  const set = new Set<(value: T) => void>();
  return {
    add(listener) {
      set.add(listener);
      return () => {
        set.delete(listener);
      };
    },
    emit(value) {
      for (const listener of set) {
        try {
          listener(value);
        } catch {
          // A host's listener must not break the flow that reports to it.
        }
      }
    },
  };
}
