import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../worker/ledger/group-commit.ts';

/** A store that records each write and fails any write containing `poison`. */
function store() {
  const writes: number[][] = [];
  let release: (() => void) | undefined;
  const first = new Promise<void>((resolve) => {
    release = resolve;
  });
  const write = async (items: readonly number[]) => {
    writes.push([...items]);
    if (writes.length === 1) await first; // holds the first write so that others wait
    if (items.includes(-1)) throw new Error('poison');
  };
  return { writes, write, release: () => release!() };
}

describe('GroupCommit', () => {
  it('writes the batches handed in during a write together, up to items_max', async () => {
    const s = store();
    const group = new GroupCommit(s.write, 5);
    const done = [group.write([1]), group.write([2, 3]), group.write([4, 5]), group.write([6, 7, 8])];
    s.release();
    await Promise.all(done);
    expect(s.writes).toEqual([[1], [2, 3, 4, 5], [6, 7, 8]]);
  });

  it('writes a failed group again batch by batch: only the poison batch fails', async () => {
    const s = store();
    const group = new GroupCommit(s.write, 100);
    const first = group.write([1]);
    const outcomes = [group.write([2]), group.write([-1, 3]), group.write([4])].map((p) =>
      p.then(
        () => 'ok',
        (error: Error) => error.message,
      ),
    );
    s.release();
    await first;
    expect(await Promise.all(outcomes)).toEqual(['ok', 'poison', 'ok']);
    expect(s.writes).toEqual([[1], [2, -1, 3, 4], [2], [-1, 3], [4]]);
  });

  it('a batch larger than items_max is written alone', async () => {
    const s = store();
    const group = new GroupCommit(s.write, 2);
    const done = [group.write([1]), group.write([2, 3, 4]), group.write([5])];
    s.release();
    await Promise.all(done);
    expect(s.writes).toEqual([[1], [2, 3, 4], [5]]);
  });
});
