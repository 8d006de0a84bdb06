// `npm run seed:demo`: the demo program, created through the management API's service code.
// Safe to re-run: every object has a fixed id or token and is created only when absent;
// balance loads use fixed Idempotency-Keys. Demo cards are created `active` directly (no
// Marqeta round trip). The two API keys are demo-only fixed values (override with
// DEMO_ADMIN_API_KEY / DEMO_COMPANY_API_KEY); never use them outside a demo.

import { createApi } from '../api/api.ts';
import { parseKey, type Principal } from '../api/auth/api-keys.ts';
import { findApiKeyByPrefix } from '../api/repos/api-keys.ts';
import { findBusinessUserByToken } from '../api/repos/business-users.ts';
import { getCompany } from '../api/repos/companies.ts';
import { findPersonalUserByToken } from '../api/repos/personal-users.ts';
import { createApiKey } from '../api/services/api-key-service.ts';
import type { CreateCardInput } from '../api/services/card-service.ts';
import { loadApiConfig, loadOrExit } from '../shared/config.ts';
import { createLogger } from '../shared/logger.ts';

const DEMO_COMPANY_ID = '00000000-0000-4000-8000-00000000de01';
const DEMO_ADMIN_API_KEY =
  process.env.DEMO_ADMIN_API_KEY ?? 'afc_demoadmin_DemoOnlyProgramAdminKeyNotForProduction01';
const DEMO_COMPANY_API_KEY =
  process.env.DEMO_COMPANY_API_KEY ?? 'afc_democompany_DemoOnlyCompanyAdminKeyNotForProduction1';
const SEED: Principal = { key_id: 'seed-demo', company_id: null, scopes: ['admin'] };

const config = loadOrExit(() => loadApiConfig({ ...process.env, API_PORT: '0' }));
const log = createLogger('seed-demo', config.log_level === 'info' ? 'warn' : config.log_level);
for (const [name, key] of [
  ['DEMO_ADMIN_API_KEY', DEMO_ADMIN_API_KEY],
  ['DEMO_COMPANY_API_KEY', DEMO_COMPANY_API_KEY],
]) {
  if (parseKey(key!) === null) {
    process.stderr.write(`${name} must look like afc_<8-32 lowercase letters/digits>_<32-128 characters>\n`);
    process.exit(64);
  }
}

const api = await createApi(config, log);
const { cards, cardholders, balances } = api.services;

async function ensureCard(input: CreateCardInput & { card_token: string }) {
  const found = await cards.store(input.kind).findByToken(input.card_token);
  return found ?? cards.create(input, 'active');
}

async function ensureKey(name: string, company_id: string | null, key: string) {
  const existing = await findApiKeyByPrefix(api.sql, parseKey(key)!.prefix);
  if (existing === null) await createApiKey(api.sql, { name, company_id, scopes: ['admin'], key });
}

try {
  if ((await getCompany(api.sql, DEMO_COMPANY_ID)) === null) {
    await cardholders.createCompany(SEED, {
      id: DEMO_COMPANY_ID,
      name: 'Demo Logistics Ltd',
      time_zone: 'UTC',
    });
  }
  const business_user =
    (await findBusinessUserByToken(api.sql, 'demo_user_business_1')) ??
    (await cardholders.createBusinessUser(SEED, DEMO_COMPANY_ID, {
      user_token: 'demo_user_business_1',
      email: 'demo.business.1@example.com',
      role: 'employee',
    }));
  await ensureCard({
    kind: 'business',
    user_id: business_user.id,
    card_token: 'demo_card_business_1',
    currency_code: 'USD',
    limits: {
      per_transaction_limit_minor: '50000',
      daily_limit_minor: '100000',
      monthly_limit_minor: '1000000',
    },
  });
  await ensureCard({
    kind: 'business',
    user_id: business_user.id,
    card_token: 'demo_card_business_2',
    currency_code: 'USD',
    limits: { daily_limit_minor: '20000' },
    // Gambling and precious metals blocked.
    controls: { mcc_block: ['7995', '5944'] },
  });

  const personal: Array<[string, string, string]> = [];
  for (const [n, balance_minor] of [
    [1, '100000'],
    [2, '25000'],
  ] as const) {
    const user_token = `demo_user_personal_${n}`;
    const user =
      (await findPersonalUserByToken(api.mongo.db(), user_token)) ??
      (await cardholders.createPersonalUser(SEED, {
        user_token,
        email: `demo.personal.${n}@example.com`,
        kyc_status: 'verified',
      }));
    const card = await ensureCard({
      kind: 'personal',
      user_id: String(user._id),
      card_token: `demo_card_personal_${n}`,
      currency_code: 'USD',
      limits: { daily_limit_minor: '50000' },
    });
    const loaded = await balances.load(SEED, card.id, 'demo-initial-load', balance_minor, 'USD');
    personal.push([user_token, card.card_token, loaded.balance.posted_minor.toString()]);
  }

  await ensureKey('demo program admin', null, DEMO_ADMIN_API_KEY);
  await ensureKey('demo company admin', DEMO_COMPANY_ID, DEMO_COMPANY_API_KEY);

  process.stdout.write(
    [
      'Demo program ready (demo-only values; safe to re-run).',
      `  company            ${DEMO_COMPANY_ID}  Demo Logistics Ltd`,
      '  business user      demo_user_business_1',
      '  business cards     demo_card_business_1 (per txn 500.00, day 1,000.00, month 10,000.00 USD)',
      '                     demo_card_business_2 (day 200.00 USD, MCC 7995 and 5944 blocked)',
      ...personal.map(
        ([user, card, posted]) => `  personal           ${user} / ${card}  balance ${posted} minor USD`,
      ),
      `  program admin key  ${DEMO_ADMIN_API_KEY}`,
      `  company admin key  ${DEMO_COMPANY_API_KEY}`,
      '',
      `  curl -H "Authorization: Bearer ${DEMO_ADMIN_API_KEY}" http://127.0.0.1:${process.env.API_PORT ?? 8082}/api/cards?kind=personal`,
      '',
      `  operator console   http://127.0.0.1:${process.env.API_PORT ?? 8082}/console/  (sign in with the program admin key;`,
      '                     the company admin key sees Demo Logistics Ltd only)',
      '',
    ].join('\n'),
  );
} finally {
  await api.close();
}
