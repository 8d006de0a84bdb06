// The whole transaction lifecycle through the JIT endpoint: every money-moving method, each
// idempotent on its token, keeps available = posted + pending postings - active holds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decisionKeys } from '../../shared/redis-keys.ts';
import {
  createBusinessCard,
  createPersonalCard,
  uniqueToken,
  type CreatedCard,
} from '../support/cardholders.ts';
import { startTestGateway } from '../support/gateway-harness.ts';
import { basicAuth, jitRequest, type JitOptions } from '../support/jit-requests.ts';

let gw: Awaited<ReturnType<typeof startTestGateway>>;
beforeAll(async () => {
  gw = await startTestGateway({ PARTIAL_APPROVAL_ENABLED: 'true' });
});
afterAll(async () => {
  await gw.close();
});

async function send(options: JitOptions) {
  const body = jitRequest(options);
  const response = await gw.app.inject({
    method: 'POST',
    url: '/api/transactions/authorize',
    headers: { authorization: basicAuth() },
    payload: body,
  });
  const jit = response.json().jit_funding as Record<string, unknown> & { token: string };
  return { status: response.statusCode, jit, body };
}

async function ledger(card: CreatedCard) {
  return gw.redis.hgetall(decisionKeys(gw.layout, card.user_token, card.card_token, '').ledger);
}

async function available(card: CreatedCard) {
  const answer = await send({ ...card, amount: 0, method: 'pgfs.balanceinquiry' });
  expect(answer.status).toBe(200);
  const balances = answer.jit.balances as Record<string, { available_balance: number }>;
  return balances.USD!.available_balance;
}

describe('transaction lifecycle', () => {
  it('incremental adds to the hold of its authorization; a full reversal releases all of it once', async () => {
    const card = await createPersonalCard(gw.mongo.db(), { balance_minor: 10_000n });
    const auth = await send({ ...card, amount: 42.75 });
    expect(auth.status).toBe(200);
    const incremental = await send({
      ...card,
      amount: 10,
      method: 'pgfs.authorization.incremental',
      original_jit_token: auth.jit.token,
    });
    expect(incremental.status).toBe(200);
    expect(incremental.jit.original_jit_funding_token).toBe(auth.jit.token);
    expect((await ledger(card)).held).toBe('5275');
    expect(await available(card)).toBe(47.25);
    const reversal = await send({
      ...card,
      amount: 52.75,
      method: 'pgfs.authorization.reversal',
      original_jit_token: auth.jit.token,
    });
    expect(reversal.status).toBe(200);
    expect(reversal.jit.amount).toBe(52.75);
    expect((await ledger(card)).held).toBe('0');
    // A second reversal of the same authorization releases nothing more.
    await send({
      ...card,
      amount: 52.75,
      method: 'pgfs.authorization.reversal',
      original_jit_token: auth.jit.token,
    });
    expect((await ledger(card)).held).toBe('0');
    expect(await available(card)).toBe(100);
  });

  it('declines an incremental on an authorization already reversed or cleared (authorization_closed)', async () => {
    const card = await createPersonalCard(gw.mongo.db(), { balance_minor: 10_000n });
    const auth = await send({ ...card, amount: 20 });
    await send({
      ...card,
      amount: 20,
      method: 'pgfs.authorization.reversal',
      original_jit_token: auth.jit.token,
    });
    const incremental = await send({
      ...card,
      amount: 5,
      method: 'pgfs.authorization.incremental',
      original_jit_token: auth.jit.token,
    });
    expect(incremental.status).toBe(402);
    expect(incremental.jit).toMatchObject({
      memo: 'authorization_closed',
      decline_reason: 'TRANSACTION_NOT_PERMITTED',
    });
    expect((await ledger(card)).held).toBe('0');
  });

  it('a partial reversal releases only its amount, and the spend it counted', async () => {
    const card = await createBusinessCard(gw.sql, { daily_limit_minor: 10_000n });
    const auth = await send({ ...card, amount: 80 });
    await send({
      ...card,
      amount: 30,
      method: 'pgfs.authorization.reversal',
      original_jit_token: auth.jit.token,
    });
    expect(await ledger(card)).toMatchObject({ held: '5000', ds: '5000' });
    expect((await send({ ...card, amount: 50 })).status).toBe(200);
    expect((await send({ ...card, amount: 0.01 })).jit.memo).toBe('limit_exceeded');
  });

  it('clearing posts the cleared amount and releases the whole hold, even when it differs', async () => {
    const card = await createPersonalCard(gw.mongo.db(), { balance_minor: 10_000n });
    const auth = await send({ ...card, amount: 52.75 });
    const clearing = await send({
      ...card,
      amount: 48.1,
      method: 'pgfs.authorization.clearing',
      original_jit_token: auth.jit.token,
    });
    expect(clearing.status).toBe(200);
    expect(await ledger(card)).toMatchObject({ held: '0', pend: '-4810', ds: '4810' });
    expect(await available(card)).toBe(51.9);
  });

  it('clearing without an authorization is a force post; auth_plus_capture posts at once', async () => {
    const card = await createPersonalCard(gw.mongo.db(), { balance_minor: 10_000n });
    expect(
      (
        await send({
          ...card,
          amount: 20,
          method: 'pgfs.authorization.clearing',
          original_jit_token: uniqueToken('jit'),
        })
      ).status,
    ).toBe(200);
    expect((await send({ ...card, amount: 30, method: 'pgfs.auth_plus_capture' })).status).toBe(200);
    expect(await ledger(card)).toMatchObject({ held: '0', pend: '-5000' });
    // auth_plus_capture is still a purchase: over the available balance it declines.
    const over = await send({
      ...card,
      amount: 50.01,
      method: 'pgfs.auth_plus_capture',
      partial_approval_capable: false,
    });
    expect(over.jit.memo).toBe('insufficient_balance');
  });

  it('refunds credit the balance once; a pending refund credits nothing until it clears', async () => {
    const card = await createPersonalCard(gw.mongo.db(), { balance_minor: 1_000n });
    const refund = await send({ ...card, amount: 5, method: 'pgfs.refund' });
    expect(refund.status).toBe(200);
    const replay = await gw.app.inject({
      method: 'POST',
      url: '/api/transactions/authorize',
      headers: { authorization: basicAuth() },
      payload: refund.body,
    });
    expect(replay.statusCode).toBe(200);
    expect(await available(card)).toBe(15);
    await send({ ...card, amount: 7, method: 'pgfs.refund.authorization' });
    expect(await available(card)).toBe(15);
    await send({ ...card, amount: 7, method: 'pgfs.refund.authorization.clearing' });
    expect(await available(card)).toBe(22);
  });

  it('advice and stand-in messages are booked even beyond the balance; account verification holds nothing', async () => {
    const card = await createPersonalCard(gw.mongo.db(), { balance_minor: 1_000n });
    const standin = await send({ ...card, amount: 25, method: 'pgfs.authorization.standin' });
    expect(standin.status).toBe(200);
    expect((await ledger(card)).held).toBe('2500');
    const verification = await send({
      ...card,
      amount: 0,
      method: 'pgfs.authorization.account_verification',
    });
    expect(verification.status).toBe(200);
    expect((await ledger(card)).held).toBe('2500');
    expect(await available(card)).toBe(0);
  });

  it('answers a balance inquiry for a business card with the least room left under its limits', async () => {
    const card = await createBusinessCard(gw.sql, {
      daily_limit_minor: 10_000n,
      monthly_limit_minor: 50_000n,
    });
    await send({ ...card, amount: 30 });
    expect(await available(card)).toBe(70);
  });

  it('approves the available amount when the network allows partial approval', async () => {
    const card = await createPersonalCard(gw.mongo.db(), { balance_minor: 3_000n });
    const partial = await send({ ...card, amount: 45, partial_approval_capable: true });
    expect(partial.status).toBe(200);
    expect(partial.jit.amount).toBe(30);
    const other = await createPersonalCard(gw.mongo.db(), { balance_minor: 3_000n });
    const full_only = await send({ ...other, amount: 45, partial_approval_capable: false });
    expect(full_only.status).toBe(402);
  });

  it('declines an unknown method with TRANSACTION_NOT_PERMITTED / unsupported_method', async () => {
    const card = await createPersonalCard(gw.mongo.db(), { balance_minor: 3_000n });
    const answer = await send({ ...card, amount: 1, method: 'pgfs.something.new' });
    expect(answer.status).toBe(402);
    expect(answer.jit).toMatchObject({
      decline_reason: 'TRANSACTION_NOT_PERMITTED',
      memo: 'unsupported_method',
    });
  });
});
