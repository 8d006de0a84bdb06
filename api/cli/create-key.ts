// Creates an API key and prints it once. The first program-wide admin key comes from here:
//   node api/cli/create-key.ts --name ops --scopes admin            (program-wide)
//   node api/cli/create-key.ts --name acme-ro --scopes read --company <company uuid>

import { parseArgs } from 'node:util';
import { ConfigError } from '../../shared/config.ts';
import { connectPostgres } from '../../shared/stores/postgres.ts';
import { SCOPES, type Scope } from '../auth/api-keys.ts';
import { createApiKey } from '../services/api-key-service.ts';

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(64);
}

const { values } = parseArgs({
  options: {
    name: { type: 'string' },
    scopes: { type: 'string', default: 'read' },
    company: { type: 'string' },
  },
});
if (!values.name) fail('usage: create-key.ts --name <name> [--scopes read,write,admin] [--company <uuid>]');
const scopes = values.scopes.split(',').map((s) => s.trim());
if (scopes.some((s) => !(SCOPES as readonly string[]).includes(s)))
  fail(`--scopes must be among ${SCOPES.join(', ')}`);

const database_url = process.env.DATABASE_URL;
if (!database_url) throw new ConfigError('DATABASE_URL is required but not set');
const sql = connectPostgres({ url: database_url, application_name: 'afc-api-cli', max_connections: 1 });
try {
  const { row, key } = await createApiKey(sql, {
    name: values.name,
    company_id: values.company ?? null,
    scopes: scopes as Scope[],
  });
  process.stdout.write(
    `id:     ${row.id}\ncompany: ${row.company_id ?? '(program-wide)'}\nscopes: ${row.scopes.join(',')}\nkey:    ${key}\n`,
  );
} finally {
  await sql.end();
}
