import { describe, expect, it } from 'vitest';
import { ledgerCommands, notificationEventToken } from '../../gateway/webhooks/notification-ledger.ts';

const base = {
  token: 'txn_1',
  state: 'PENDING',
  card_token: 'card_1',
  user_token: 'user_1',
  currency_code: 'USD',
  gpa_order: { jit_funding: { token: 'jit_1', method: 'pgfs.authorization', amount: 10 } },
};

describe('what a Marqeta notification does to the ledger', () => {
  it('does nothing for an ordinary notification', () => {
    expect(ledgerCommands(base)).toEqual([]);
  });

  it('releases the authorization group when Marqeta timed out our answer', () => {
    const [command] = ledgerCommands({
      ...base,
      state: 'DECLINED',
      gpa_order: { ...base.gpa_order, funding: { gateway_log: { timed_out: true } } },
    });
    expect(command).toMatchObject({
      action: 'release_timed_out',
      mode: 'release',
      jit_token: 'timed_out:jit_1',
      original_jit_token: 'jit_1',
    });
  });

  it('releases a declined incremental into its original authorization group', () => {
    const [command] = ledgerCommands({
      ...base,
      state: 'DECLINED',
      gpa_order: {
        jit_funding: {
          token: 'jit_2',
          method: 'pgfs.authorization.incremental',
          amount: 5,
          original_jit_funding_token: 'jit_1',
        },
      },
    });
    expect(command).toMatchObject({ action: 'release_declined', original_jit_token: 'jit_1' });
  });

  it('books stand-in approvals as forced holds or postings', () => {
    expect(ledgerCommands({ ...base, standin_approved_by: 'COMMANDO_AUTO' })[0]).toMatchObject({
      mode: 'force_auth',
      jit_token: 'standin:jit_1',
    });
    expect(
      ledgerCommands({
        ...base,
        subnetwork: 'MANAGED_JIT',
        gpa_order: { jit_funding: { token: 'jit_3', method: 'pgfs.auth_plus_capture', amount: 1 } },
      })[0],
    ).toMatchObject({ mode: 'force_capture' });
  });

  it('keys deduplication on the transaction token and its state', () => {
    expect(notificationEventToken(base)).toBe('txn_1:PENDING');
  });
});
