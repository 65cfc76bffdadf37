/** The listeners of one kind of change (onClientsChanged, onFeedAppended), kept the same way by every store. */
export class Signal {
  private readonly listeners = new Set<() => void>();

  /** Adds a listener; returns the function that removes it. */
  on(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Calls every listener (over a copy: one may unsubscribe while it is called). */
  fire(): void {
    for (const listener of [...this.listeners]) listener();
  }

  /** Fires once `write` has settled, whatever its outcome: listeners hear of a change after its commit. */
  async after<T>(write: Promise<T>): Promise<T> {
    try {
      return await write;
    } finally {
      this.fire();
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}
