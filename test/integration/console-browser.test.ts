// The operator console in a real browser (Debian's Chromium through playwright-core), on a real
// gateway, worker and API: sign in, find a card, see a 409 on a stale edit, lower its daily
// limit, send an authorization over it through the gateway, see it declined live with its trace,
// replay a dead letter, sign out; then a key of another company sees none of it.
// CONSOLE_SCREENSHOT_DIR=docs/console also saves the screenshots the docs show.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_DECISIONS, deadLetterQueueName } from '../../shared/broker/topology.ts';
import { DecisionStatus } from '../../shared/decision-status.ts';
import { apiKey, bearer, callApi, startTestApi, type TestApi } from '../support/api-harness.ts';
import { startBrowser, type TestBrowser } from '../support/browser.ts';
import {
  createBusinessCard,
  type CreatedCard,
  createPersonalCard,
  uniqueToken,
} from '../support/cardholders.ts';
import { startTestGateway } from '../support/gateway-harness.ts';
import { basicAuth, jitRequest } from '../support/jit-requests.ts';
import { decisionEvent, publishEvents, startTestWorker, waitUntil } from '../support/worker-harness.ts';

let gw: Awaited<ReturnType<typeof startTestGateway>>;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
let api: TestApi;
let browser: TestBrowser;
let page: Page;
let base: string;
let card: CreatedCard;
let other_card: CreatedCard;
let personal_card: CreatedCard;
let program_key: string;
let other_key: string;
const screenshots = process.env.CONSOLE_SCREENSHOT_DIR;

async function companyOf(c: CreatedCard): Promise<string> {
  const [row] = await api.sql<{ company_id: string }[]>`SELECT company_id FROM users WHERE id = ${c.user_id}`;
  return row!.company_id;
}

async function authorize(c: CreatedCard, amount: string, jit_token = uniqueToken('jit')) {
  const response = await gw.app.inject({
    method: 'POST',
    url: '/api/transactions/authorize',
    headers: { authorization: basicAuth(), 'content-type': 'application/json' },
    payload: jitRequest({ card_token: c.card_token, user_token: c.user_token, amount, jit_token }),
  });
  return { jit_token, answer: response.json() as { jit_funding: { method: string } } };
}

async function shot(name: string): Promise<void> {
  if (screenshots === undefined) return;
  mkdirSync(screenshots, { recursive: true });
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: false });
}

async function signIn(key: string): Promise<void> {
  await page.goto(`${base}/console/`);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

beforeAll(async () => {
  gw = await startTestGateway({}, { relay_enabled: true });
  const gateway_internal = await gw.internal_app.listen({ host: '127.0.0.1', port: 0 });
  worker = await startTestWorker();
  api = await startTestApi({
    // The gateway's cache: the API's limit change must reach the next decision.
    REDIS_KEY_PREFIX: gw.config.redis_key_prefix,
    REDIS_SHARDS: String(gw.config.redis_shards),
    CONSOLE_GATEWAY_INTERNAL_URL: gateway_internal,
    CONSOLE_WORKER_HEALTH_URL: `http://127.0.0.1:${worker.health_port}`,
  });
  base = await api.app.listen({ host: '127.0.0.1', port: 0 });
  card = await createBusinessCard(api.sql, { daily_limit_minor: 500_000n });
  other_card = await createBusinessCard(api.sql, { daily_limit_minor: 500_000n });
  personal_card = await createPersonalCard(api.mongo.db(), { balance_minor: 10_000n });
  program_key = await apiKey(api, null, ['admin']);
  other_key = await apiKey(api, await companyOf(other_card), ['admin']);
  browser = await startBrowser();
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
  page.on('dialog', (dialog) => void dialog.accept());
});

afterAll(async () => {
  await browser?.close();
  await Promise.allSettled([api?.close(), gw?.close(), worker?.close()]);
});

describe('operator console in Chromium', () => {
  it('an operator lowers a daily limit, sees the decline live with its trace, replays a dead letter', async () => {
    await signIn(program_key);

    // Find the card by its token.
    await page.getByLabel('Search by card token, cardholder or company').fill(card.card_token);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('1 card matches').waitFor();
    await shot('cards');
    // A personal card is found by its whole token.
    await page.getByLabel('Search by card token, cardholder or company').fill(personal_card.card_token);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: personal_card.card_token }).waitFor();
    await page.getByLabel('Search by card token, cardholder or company').fill(card.card_token);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('1 card matches').waitFor();
    await page.getByRole('link', { name: card.card_token }).click();
    await page.getByRole('heading', { name: `Card ${card.card_token}` }).waitFor();

    // A change made elsewhere since the page loaded: the console's edit answers 409, shown plainly.
    const elsewhere = await callApi(api, 'PATCH', `/api/cards/${card.card_id}`, bearer(program_key), {
      limits: { weekly_limit_minor: '900000' },
    });
    expect(elsewhere.status, JSON.stringify(elsewhere.body)).toBe(200);
    await page.getByLabel('Daily limit').fill('1000');
    await page.getByRole('button', { name: 'Save spending controls' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('Conflict (HTTP 409)');

    // Reloaded, the same change goes through.
    await page.reload();
    await page.getByLabel('Daily limit').fill('1000');
    await page.getByRole('button', { name: 'Save spending controls' }).click();
    await page.getByText('Spending controls saved.').waitFor();
    expect(await page.getByLabel('Daily limit').inputValue()).toBe('1000');
    await shot('card');

    // The live page, filtered on the card; then an authorization over the new limit.
    await page.getByRole('link', { name: 'Live decisions' }).click();
    await page.getByText('Connected: decisions appear').waitFor();
    await page.getByLabel('Card (id or last four)').fill(card.card_id);
    const { answer } = await authorize(card, '20.00');
    expect(answer.jit_funding.method).toBe('pgfs.authorization');
    const row = page
      .getByRole('table', { name: 'Decisions' })
      .getByRole('row')
      .filter({ hasText: 'LIMIT_DAILY' });
    await row.waitFor();
    expect(await row.textContent()).toContain('declined');
    expect(await row.textContent()).toContain('AMOUNT_LIMIT_EXCEEDED');
    expect(await row.textContent()).toContain('20.00 USD');
    // Its decision time, in ms (column "Decision ms").
    expect(await row.getByRole('cell').nth(5).textContent()).toMatch(/^\d+$/);
    await page.getByLabel('Card (id or last four)').fill('');
    // The decision-time chart's next reading includes this decision.
    await page.getByText(/^Latest: p50 [\d.]+ ms, p99 [\d.]+ ms/).waitFor();
    await shot('live');

    // Its trace on the card page, once the worker recorded it.
    await waitUntil(async () => {
      const [found] = await api.sql`SELECT 1 FROM transactions WHERE card_id = ${card.card_id}`;
      return found !== undefined;
    });
    await page.goto(`${base}/console/#/cards/${card.card_id}`);
    const trace = page.getByRole('row').filter({ hasText: 'LIMIT_DAILY' });
    await trace.waitFor();
    expect(await trace.textContent()).toContain('declined');
    // The limit and the spend the rule saw: nothing spent yet today, against the new 10.00 limit.
    expect(await trace.textContent()).toContain('saw: daily 0.00 USD of 10.00 USD');

    // A dead letter (a decision the worker gave up on), shown and replayed from the console.
    const lost = decisionEvent({
      card,
      kind: 'business',
      amount_minor: 700n,
      approved: false,
      status_code: DecisionStatus.MERCHANT_RESTRICTED,
    });
    await publishEvents(worker.rabbit, deadLetterQueueName(QUEUE_DECISIONS), [lost]);
    await page.getByRole('link', { name: 'Operations' }).click();
    await page.getByRole('button', { name: `Dead letters of ${QUEUE_DECISIONS}`, exact: true }).click();
    const letter = page.getByRole('row').filter({ hasText: lost.request.jit_token });
    await letter.waitFor();
    const position = (await letter.getByRole('cell').first().textContent())!.trim();
    await letter.getByRole('button', { name: `Show #${position}` }).click();
    await page.getByLabel('Dead letter').filter({ hasText: lost.request.jit_token }).waitFor();
    await shot('operations');
    await letter.getByRole('button', { name: `Replay #${position}` }).click();
    await page.getByText(`Replayed 1 message to ${QUEUE_DECISIONS}.`).waitFor();
    await waitUntil(async () => {
      const [found] = await api.sql`SELECT 1 FROM transactions WHERE jit_token = ${lost.request.jit_token}`;
      return found !== undefined;
    });
    // Health as the gateway and the worker report it.
    expect(await page.getByRole('row').filter({ hasText: 'gateway' }).first().textContent()).toContain(
      'redis',
    );
    // Reconciliation as the worker runs it (what other tests left in Redis may differ: not asserted).
    await page.getByRole('button', { name: 'Compare Redis with the ledger' }).click();
    await page.getByText(/cards checked at/).waitFor({ timeout: 60_000 });

    // Signing out deletes the session: its cookie no longer opens anything.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').waitFor();
    expect((await page.request.get(`${base}/console/session`)).status()).toBe(401);
    await shot('sign-in');
  });

  it('a key of another company sees none of that card: not in search, not by id, not live', async () => {
    await browser.context.clearCookies();
    await signIn(other_key);
    await page.getByLabel('Search by card token, cardholder or company').fill(card.card_token);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('0 cards match').waitFor();
    // Nor a personal card (program-wide keys only).
    await page.getByLabel('Search by card token, cardholder or company').fill(personal_card.card_token);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('0 cards match').waitFor();
    // Its own card is found by its cardholder's user token.
    await page.getByLabel('Search by card token, cardholder or company').fill(other_card.user_token);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: other_card.card_token }).waitFor();
    expect((await page.request.get(`${base}/console/api/cards/${card.card_id}`)).status()).toBe(404);
    await page.goto(`${base}/console/#/cards/${card.card_id}`);
    await page.getByRole('alert').waitFor();

    await page.getByRole('link', { name: 'Live decisions' }).click();
    await page.getByText('Connected: decisions appear').waitFor();
    // The other company's decision first, recorded by the worker (so published), then its own.
    const theirs = await authorize(card, '1.00');
    await waitUntil(async () => {
      const [found] = await api.sql`SELECT 1 FROM transactions WHERE jit_token = ${theirs.jit_token}`;
      return found !== undefined;
    });
    await authorize(other_card, '3.21');
    const table = page.getByRole('table', { name: 'Decisions' });
    await table.getByRole('row').filter({ hasText: '3.21 USD' }).waitFor();
    expect(await table.textContent()).not.toContain(card.card_token.slice(-4));
    expect(await table.getByRole('row').count()).toBe(2);

    await page.getByRole('link', { name: 'Operations' }).click();
    await page.getByText('Operations need a program-wide API key.').waitFor();
    expect((await page.request.get(`${base}/console/ops/queues`)).status()).toBe(403);
    // Writes without the session's CSRF token are refused, even with the cookie.
    const forged = await page.request.post(`${base}/console/api/cards/${other_card.card_id}/status`, {
      data: { action: 'suspend' },
    });
    expect(forged.status()).toBe(403);
  });
});
