// Micro-batching: callers submit one item each and await its own result; items are handed to
// `run` together once batch_max units are waiting or the first has waited linger_ms. This lets
// a consumer that acks message by message write many messages per database round trip.

export interface BatcherOptions<I = unknown> {
  /** Units (see `size`) that make a batch; an item larger than this is handed over at once. */
  readonly batch_max: number;
  readonly linger_ms: number;
  /** Units an item counts for (a message's decisions); 1 when absent. */
  readonly size?: (item: I) => number;
}

interface Waiting<I, O> {
  readonly item: I;
  readonly resolve: (output: O) => void;
  readonly reject: (error: unknown) => void;
}

export class Batcher<I, O> {
  readonly #run: (items: readonly I[]) => Promise<readonly O[]>;
  readonly #options: BatcherOptions<I>;
  #waiting: Array<Waiting<I, O>> = [];
  #waiting_units = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #in_flight = new Set<Promise<void>>();

  /** `run` returns one output per item, in order; if it throws, every item of the batch fails with it. */
  constructor(run: (items: readonly I[]) => Promise<readonly O[]>, options: BatcherOptions<I>) {
    if (options.batch_max < 1) throw new RangeError('batch_max must be at least 1');
    this.#run = run;
    this.#options = options;
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#waiting.push({ item, resolve, reject });
      this.#waiting_units += this.#options.size?.(item) ?? 1;
      if (this.#waiting_units >= this.#options.batch_max) this.#flush();
      else this.#timer ??= setTimeout(() => this.#flush(), this.#options.linger_ms);
    });
  }

  /** Items waiting for a batch (not yet handed to `run`). */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Hands over whatever waits now and resolves once every batch in flight has settled. */
  async drain(): Promise<void> {
    if (this.#waiting.length > 0) this.#flush();
    await Promise.allSettled([...this.#in_flight]);
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#waiting;
    this.#waiting = [];
    this.#waiting_units = 0;
    if (batch.length === 0) return;
    const done = this.#run(batch.map((w) => w.item)).then(
      (outputs) => {
        if (outputs.length !== batch.length) {
          const error = new Error(`batch run returned ${outputs.length} results for ${batch.length} items`);
          for (const w of batch) w.reject(error);
          return;
        }
        for (const [i, w] of batch.entries()) w.resolve(outputs[i]!);
      },
      (error: unknown) => {
        for (const w of batch) w.reject(error);
      },
    );
    this.#in_flight.add(done);
    void done.finally(() => this.#in_flight.delete(done));
  }
}
