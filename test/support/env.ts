// Test environment: the defaults of scripts/dev-env.sh (one source of truth), unless set.
import { readFileSync } from 'node:fs';

const DEFAULT = /^export (\w+)="\$\{\w+:-(.*)\}"$/;
for (const line of readFileSync(new URL('../../scripts/dev-env.sh', import.meta.url), 'utf8').split('\n')) {
  const match = DEFAULT.exec(line.trim());
  if (match && !process.env[match[1]!]) process.env[match[1]!] = match[2]!;
}
process.env.LOG_LEVEL = process.env.TEST_LOG_LEVEL ?? 'silent';
