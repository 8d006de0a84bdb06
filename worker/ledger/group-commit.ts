// Group commit: the batches that callers hand in while a write is running are written together
// by the next one, up to a number of items. A store whose cost is per document written, not
// per item (FerretDB: one update per card document, whatever the number of the card's decisions
// in the write), then does less work the busier it is. One write at a time: batches of the same
// cards would wait for each other's locks anyway.
// A merged write that fails is written again batch by batch, so each caller gets the outcome of
// its own batch (a poison decision fails its own batch only; DecisionLedger then bisects it).

interface Waiting<T> {
  readonly items: readonly T[];
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export class GroupCommit<T> {
  readonly #write: (items: readonly T[]) => Promise<void>;
  readonly #items_max: number;
  readonly #waiting: Waiting<T>[] = [];
  #writing = false;

  /** `items_max`: items merged into one write at most (a larger batch is written alone). */
  constructor(write: (items: readonly T[]) => Promise<void>, items_max: number) {
    if (items_max < 1) throw new RangeError('items_max must be at least 1');
    this.#write = write;
    this.#items_max = items_max;
  }

  /** Resolves once the items are written (with others or alone); rejects with their own error. */
  write(items: readonly T[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ items, resolve, reject });
      this.#next();
    });
  }

  #next(): void {
    if (this.#writing || this.#waiting.length === 0) return;
    this.#writing = true;
    const group = [this.#waiting.shift()!];
    let count = group[0]!.items.length;
    while (this.#waiting.length > 0 && count + this.#waiting[0]!.items.length <= this.#items_max) {
      const next = this.#waiting.shift()!;
      count += next.items.length;
      group.push(next);
    }
    void this.#writeGroup(group).finally(() => {
      this.#writing = false;
      this.#next();
    });
  }

  async #writeGroup(group: readonly Waiting<T>[]): Promise<void> {
    try {
      await this.#write(group.flatMap((w) => w.items));
      for (const w of group) w.resolve();
      return;
    } catch (error) {
      if (group.length === 1) {
        group[0]!.reject(error);
        return;
      }
    }
    for (const w of group) {
      try {
        await this.#write(w.items);
        w.resolve();
      } catch (error) {
        w.reject(error);
      }
    }
  }
}
