// EXPLAIN (FORMAT JSON) of a statement built by its module (never a copy of its text), and the
// plan's ways of reading a ledger table that grow with the ledger: a Seq Scan, an index read
// without an index condition (a whole partial index, e.g. every pending row), anywhere on the
// inner side of a Nested Loop or elsewhere. An ordered index read under a Limit (a page of a
// list, newest first) is bounded by that Limit and allowed outside a nested loop.

import type { Fragment, TransactionSql } from 'postgres';

export const LEDGER_TABLES: ReadonlySet<string> = new Set([
  'transactions',
  'authorization_holds',
  'spending_controls',
  'category_spend',
  'marqeta_notifications',
]);

export interface PlanNode {
  readonly 'Node Type': string;
  readonly 'Relation Name'?: string;
  readonly 'Index Name'?: string;
  readonly 'Index Cond'?: string;
  readonly 'Parent Relationship'?: string;
  readonly Plans?: readonly PlanNode[];
}

/** EXPLAIN only: nothing runs, so any transaction will do. */
export async function explain(
  // biome-ignore lint/suspicious/noExplicitAny: a transaction of any postgres.js client
  tx: TransactionSql<any>,
  statement: Fragment,
): Promise<PlanNode> {
  const [row] = await tx<{ 'QUERY PLAN': { Plan: PlanNode }[] }[]>`EXPLAIN (FORMAT JSON) ${statement}`;
  return row!['QUERY PLAN'][0]!.Plan;
}

function keyed(node: PlanNode): boolean {
  switch (node['Node Type']) {
    case 'Seq Scan':
      return false;
    case 'Index Scan':
    case 'Index Only Scan':
    case 'Bitmap Index Scan':
      return node['Index Cond'] !== undefined;
    case 'Bitmap Heap Scan':
      return (node.Plans ?? []).every(keyedBitmap);
    default:
      return true;
  }
}

function keyedBitmap(node: PlanNode): boolean {
  return node['Node Type'] === 'Bitmap Index Scan' ? keyed(node) : (node.Plans ?? []).every(keyedBitmap);
}

/** One line per growing read of a ledger table (empty: every ledger read is by key). */
export function growingReads(plan: PlanNode): string[] {
  const found: string[] = [];
  const walk = (node: PlanNode, under_limit: boolean, inner_of_loop: boolean) => {
    const table = node['Relation Name'];
    if (table !== undefined && LEDGER_TABLES.has(table) && !keyed(node)) {
      const ordered_page = under_limit && !inner_of_loop && node['Node Type'] === 'Index Scan';
      if (!ordered_page) {
        const index = node['Index Name'] === undefined ? '' : ` using ${node['Index Name']}`;
        found.push(`${node['Node Type']} on ${table}${index}${inner_of_loop ? ' inside a Nested Loop' : ''}`);
      }
    }
    const loop = node['Node Type'] === 'Nested Loop';
    for (const child of node.Plans ?? []) {
      walk(
        child,
        under_limit || node['Node Type'] === 'Limit',
        inner_of_loop || (loop && child['Parent Relationship'] === 'Inner'),
      );
    }
  };
  walk(plan, false, false);
  return found;
}
