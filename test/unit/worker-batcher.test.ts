import { describe, expect, it } from 'vitest';
import { Batcher } from '../../worker/batcher.ts';

describe('worker batcher', () => {
  it('hands over a full batch at once and gives each caller its own result', async () => {
    const batches: number[][] = [];
    const batcher = new Batcher<number, number>(
      async (items) => {
        batches.push([...items]);
        return items.map((n) => n * 10);
      },
      { batch_max: 3, linger_ms: 60_000 },
    );
    const results = await Promise.all([1, 2, 3].map((n) => batcher.submit(n)));
    expect(results).toEqual([10, 20, 30]);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it('writes a partial batch once the first item has lingered', async () => {
    const batches: number[][] = [];
    const batcher = new Batcher<number, string>(
      async (items) => {
        batches.push([...items]);
        return items.map(String);
      },
      { batch_max: 100, linger_ms: 1 },
    );
    expect(await Promise.all([batcher.submit(7), batcher.submit(8)])).toEqual(['7', '8']);
    expect(batches).toEqual([[7, 8]]);
  });

  it('fails every item of a batch whose run throws, and only that batch', async () => {
    let calls = 0;
    const batcher = new Batcher<number, number>(
      async (items) => {
        calls++;
        if (calls === 1) throw new Error('boom');
        return [...items];
      },
      { batch_max: 2, linger_ms: 60_000 },
    );
    const first = [batcher.submit(1), batcher.submit(2)];
    await expect(Promise.all(first)).rejects.toThrow('boom');
    expect(await Promise.all([batcher.submit(3), batcher.submit(4)])).toEqual([3, 4]);
  });

  it('drain hands over waiting items without waiting for the linger', async () => {
    const batcher = new Batcher<number, number>(async (items) => [...items], {
      batch_max: 100,
      linger_ms: 60_000,
    });
    const pending = batcher.submit(5);
    expect(batcher.waiting).toBe(1);
    await batcher.drain();
    expect(await pending).toBe(5);
  });

  it('counts items by their size: a message of many decisions fills a batch alone', async () => {
    const batches: number[][][] = [];
    const batcher = new Batcher<number[], number>(
      async (items) => {
        batches.push(items.map((i) => [...i]));
        return items.map((i) => i.length);
      },
      { batch_max: 4, linger_ms: 60_000, size: (item) => item.length },
    );
    const results = await Promise.all([[1], [2, 3], [4], [5, 6, 7, 8, 9]].map((i) => batcher.submit(i)));
    expect(results).toEqual([1, 2, 1, 5]);
    expect(batches).toEqual([[[1], [2, 3], [4]], [[5, 6, 7, 8, 9]]]);
  });
});
