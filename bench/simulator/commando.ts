// The simulated Marqeta's Commando Mode (fake-marqeta/commando.ts): every request the gateway
// left undecided (the load driver's UndecidedListener) is decided by the stand-in rule, once per
// JIT token, and notified to our webhook as Marqeta would (COMMANDO_AUTO, MANAGED_JIT), retried
// until it is answered 200. What it approved is kept, so a test or the chaos suite can check
// that the ledger booked each approval exactly once and what it approved beyond the limits.

import {
  jitSummary,
  NotificationSender,
  type StandinRule,
  standIn,
  standinNotification,
  type WebhookTarget,
} from '../../fake-marqeta/commando.ts';
import { OVER_LIMIT_PER_TRANSACTION_MINOR } from './cards.ts';
import type { Db } from 'mongodb';
import type { PgSql } from '../../shared/stores/postgres.ts';
import type { UndecidedListener } from './load.ts';
import type { RequestClass } from './traffic.ts';

export interface StandinApproval {
  readonly cls: RequestClass;
  readonly jit_token: string;
  readonly card_token: string;
  readonly amount_minor: bigint;
}

export class SimulatedCommando {
  readonly #rule: StandinRule;
  readonly #sender: NotificationSender;
  /** JIT tokens stood in for (a replayed token is decided once). */
  readonly #decided = new Set<string>();
  readonly approvals: StandinApproval[] = [];
  declined = 0;
  /** Undecided requests Commando does not stand in for (reversals, clearings, ...). */
  not_stood_in = 0;

  constructor(rule: StandinRule, webhook: WebhookTarget) {
    this.#rule = rule;
    this.#sender = new NotificationSender(webhook);
  }

  readonly listener: UndecidedListener = (request) => {
    if (this.#decided.has(request.jit_token)) return;
    // A duplicate of a token our gateway already decided: its answer stands (a stand-in booked
    // beside our own decision of the same token is not modelled; see docs/failure-behaviour.md).
    if (request.expect.kind === 'replay') {
      this.not_stood_in++;
      return;
    }
    const summary = jitSummary(JSON.parse(request.body), request.amount_minor);
    const approved = summary === null ? null : standIn(this.#rule, summary);
    if (summary === null || approved === null) {
      this.not_stood_in++;
      return;
    }
    this.#decided.add(request.jit_token);
    if (approved) {
      this.approvals.push({
        cls: request.cls,
        jit_token: request.jit_token,
        card_token: request.card.card_token,
        amount_minor: request.amount_minor,
      });
    } else {
      this.declined++;
    }
    this.#sender.send(standinNotification(summary, approved));
  };

  /**
   * What the ledger must report beyond limits, per card: of the simulator's cards only the
   * over-limit pool has an amount limit (per transaction, cards.ts), so each stand-in approval
   * there is over by its amount minus that limit, whatever the order of bookings.
   */
  expectedOverLimit(): Map<string, bigint> {
    const over = new Map<string, bigint>();
    for (const approval of this.approvals) {
      if (approval.cls !== 'over_limit') continue;
      const beyond = approval.amount_minor - OVER_LIMIT_PER_TRANSACTION_MINOR;
      if (beyond > 0n) over.set(approval.card_token, (over.get(approval.card_token) ?? 0n) + beyond);
    }
    return over;
  }

  /**
   * Checks the ledger: every stand-in approval of a card we know is booked exactly once, as an
   * approval of its amount (`standin:<jit token>`; an incremental's row follows its group's
   * state), and none of the stood-in tokens was approved by our gateway. Returns the problems.
   */
  async verifyBooked(sql: PgSql, db: Db): Promise<string[]> {
    const problems: string[] = [];
    const booked = this.approvals.filter((a) => a.cls !== 'unknown_card');
    const keys = [...booked.map((a) => `standin:${a.jit_token}`), ...this.#decided];
    const business = await sql<{ jit_token: string; status: string; approved_amount_minor: bigint }[]>`
      SELECT jit_token, status, approved_amount_minor FROM transactions WHERE jit_token = ANY(${keys})`;
    const personal = await db
      .collection<{ _id: string; status: string; approved_amount_minor: bigint | number }>(
        'personal_transactions',
      )
      .find({ _id: { $in: keys } }, { projection: { status: 1, approved_amount_minor: 1 } })
      .toArray();
    const rows = new Map<string, Array<{ status: string; amount_minor: bigint }>>();
    const found = [
      ...business.map((r) => ({ token: r.jit_token, status: r.status, amount: r.approved_amount_minor })),
      ...personal.map((r) => ({ token: r._id, status: r.status, amount: r.approved_amount_minor })),
    ];
    for (const row of found) {
      rows.set(row.token, [
        ...(rows.get(row.token) ?? []),
        { status: row.status, amount_minor: BigInt(row.amount) },
      ]);
    }
    for (const approval of booked) {
      const [first, ...more] = rows.get(`standin:${approval.jit_token}`) ?? [];
      if (first === undefined) problems.push(`${approval.cls} ${approval.jit_token}: stand-in not booked`);
      else if (more.length > 0) problems.push(`${approval.cls} ${approval.jit_token}: stand-in booked twice`);
      else if (first.status === 'declined' || first.amount_minor !== approval.amount_minor)
        problems.push(
          `${approval.cls} ${approval.jit_token}: stand-in of ${approval.amount_minor} booked ${first.status} ${first.amount_minor}`,
        );
    }
    for (const token of this.#decided) {
      const ours = rows.get(token)?.[0];
      if (ours !== undefined && ours.status !== 'declined')
        problems.push(`${token}: stood in for, yet approved by our gateway (${ours.status})`);
    }
    return problems;
  }

  deliveries() {
    return this.#sender.counts();
  }

  /** Waits until every notification was answered 200 by our webhook. */
  drained(): Promise<void> {
    return this.#sender.drained();
  }

  close(): Promise<void> {
    return this.#sender.close();
  }
}
