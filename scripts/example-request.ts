// Prints a Marqeta-shaped JIT Funding authorization for a demo card, with fresh tokens:
//   node scripts/example-request.ts [card_token] [user_token] [amount]
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';

const [card_token = 'demo_card_business_1', user_token = 'demo_user_business_1', amount_text = '42.75'] =
  process.argv.slice(2);
const amount = Number(amount_text);
const id = randomUUID().replaceAll('-', '').slice(0, 16);
const body = JSON.parse(
  readFileSync(new URL('../test/fixtures/marqeta/authorization.json', import.meta.url), 'utf8'),
);
Object.assign(body, {
  token: `txn_${id}`,
  card_token,
  user_token,
  acting_user_token: user_token,
  amount,
  request_amount: amount,
});
Object.assign(body.gpa_order, { token: `gpa_${id}`, transaction_token: `txn_${id}`, amount, user_token });
Object.assign(body.gpa_order.funding, { amount });
body.gpa_order.jit_funding = {
  token: `jit_${id}`,
  method: 'pgfs.authorization',
  user_token,
  acting_user_token: user_token,
  amount,
};
process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
