// An operator's first session against a running system (`npm start`), step by step through
// the management API and the JIT endpoint, printing each request and answer:
//   node_modules/.bin/node scripts/walkthrough.ts
// Uses the demo program-wide key printed by `npm start` (DEMO_ADMIN_API_KEY overrides it).
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';

const api = `http://127.0.0.1:${process.env.API_PORT ?? 8082}`;
const gateway = `http://127.0.0.1:${process.env.GATEWAY_PORT ?? 8080}`;
const admin_key = process.env.DEMO_ADMIN_API_KEY ?? 'afc_demoadmin_DemoOnlyProgramAdminKeyNotForProduction01';
const basic = Buffer.from(
  `${process.env.GATEWAY_BASIC_AUTH_USER}:${process.env.GATEWAY_BASIC_AUTH_PASSWORD}`,
).toString('base64');

// The fields this script reads from the API's answers.
interface Answer {
  id: string;
  key: string;
  status: string;
  card_token: string;
  user_token: string;
}

async function call(method: string, url: string, key: string, body?: unknown) {
  const response = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  process.stdout.write(`\n${method} ${url.replace(api, '')} -> ${response.status}\n${text.slice(0, 600)}\n`);
  if (!response.ok) throw new Error(`${method} ${url} answered ${response.status}`);
  return JSON.parse(text) as Answer;
}

const run = randomUUID().slice(0, 8);
const company = await call('POST', `${api}/api/companies`, admin_key, { name: `Walkthrough ${run}` });
const key = await call('POST', `${api}/api/api-keys`, admin_key, {
  name: 'walkthrough',
  company_id: company.id,
  scopes: ['admin'],
});
const company_key: string = key.key;
const user = await call('POST', `${api}/api/companies/${company.id}/users`, company_key, {
  email: `ops-${run}@example.test`,
  role: 'employee',
});
let card = await call('POST', `${api}/api/cards`, company_key, {
  kind: 'business',
  user_id: user.id,
  currency_code: 'USD',
});
// The worker issues the card at (fake) Marqeta and activates it.
for (let i = 0; i < 50 && card.status !== 'active'; i++) {
  await new Promise((resolve) => setTimeout(resolve, 200));
  card = await call('GET', `${api}/api/cards/${card.id}`, company_key);
}
await call('PATCH', `${api}/api/cards/${card.id}`, company_key, {
  limits: { per_transaction_limit_minor: '20000', daily_limit_minor: '50000' },
  controls: { mcc_block: ['7995'] },
});

const template = JSON.parse(
  readFileSync(new URL('../test/fixtures/marqeta/authorization.json', import.meta.url), 'utf8'),
);
for (const amount of [42.75, 250]) {
  const id = randomUUID().replaceAll('-', '').slice(0, 16);
  const body = {
    ...template,
    token: `txn_${id}`,
    card_token: card.card_token,
    user_token: user.user_token,
    amount,
  };
  body.gpa_order = {
    ...template.gpa_order,
    jit_funding: {
      token: `jit_${id}`,
      method: 'pgfs.authorization',
      user_token: user.user_token,
      acting_user_token: user.user_token,
      amount,
    },
  };
  const response = await fetch(`${gateway}/api/transactions/authorize`, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  process.stdout.write(
    `\nPOST /api/transactions/authorize (${amount} USD) -> ${response.status}\n${await response.text()}\n`,
  );
}
// The worker persists decisions within moments.
await new Promise((resolve) => setTimeout(resolve, 1_000));
await call('GET', `${api}/api/transactions?card_id=${card.id}`, company_key);
