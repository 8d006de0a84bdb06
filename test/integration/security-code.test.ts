// Source-level guarantees, checked by reading the code: SQL only through parameterized tagged
// templates (no sql.unsafe outside migrations/, which run trusted files), no MongoDB $where or
// server-side JavaScript, and every credential or signature comparison in constant time.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { basicAuthVerifier } from '../../gateway/http/basic-auth.ts';
import { ROOT } from '../../shared/dev/processes.ts';

/** Code that ships in a process image (bench/ and test/ are tools, never deployed). */
const SHIPPED_DIRS = ['gateway', 'worker', 'api', 'shared', 'fake-marqeta', 'scripts', 'migrations'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|lua)$/.test(name) ? [path] : [];
  });
}

const files = SHIPPED_DIRS.flatMap((dir) => sourceFiles(join(ROOT, dir))).map((path) => ({
  path: relative(ROOT, path),
  text: readFileSync(path, 'utf8'),
}));

describe('SQL and MongoDB queries', () => {
  it('no sql.unsafe (string-built SQL) outside migrations/', () => {
    expect(files.length).toBeGreaterThan(50);
    const unsafe = files
      .filter((f) => /\.unsafe\s*\(/.test(f.text) && !f.path.startsWith('migrations/'))
      .map((f) => f.path);
    expect(unsafe).toEqual([]);
  });

  it('no $where, $function, $accumulator or mapReduce (server-side JavaScript) in MongoDB queries', () => {
    // operator-keys.ts names them in order to refuse them.
    const found = files
      .filter((f) => f.path !== 'shared/http/operator-keys.ts')
      .filter((f) => /['"]\$(where|function|accumulator)['"]|\bmapReduce\s*\(/.test(f.text))
      .map((f) => f.path);
    expect(found).toEqual([]);
  });
});

describe('constant-time comparisons', () => {
  const CHECKS: readonly (readonly [file: string, what: string])[] = [
    ['gateway/http/basic-auth.ts', 'Marqeta Basic auth (JIT endpoint and notifications)'],
    ['gateway/webhooks/signature.ts', 'Marqeta notification HMAC over the raw body'],
    ['api/auth/api-keys.ts', 'API key digests'],
    ['worker/webhooks/signature.ts', 'outbound webhook signatures (verifyWebhookSignature)'],
  ];

  it.each(CHECKS)('%s (%s) compares with timingSafeEqual and never with ===', (file) => {
    const text = files.find((f) => f.path === file)?.text ?? '';
    expect(text).toMatch(/timingSafeEqual\(/);
    expect(text).not.toMatch(
      /(password|secret|signature|expected|digest|sha256)\w*\s*[!=]==(?!\s*(null|undefined)\b)/i,
    );
  });

  it('no other file compares a password, secret, key or signature with === or !==', () => {
    const suspicious = files
      .filter((f) => !f.path.startsWith('migrations/'))
      .flatMap((f) =>
        f.text
          .split('\n')
          .filter((line) =>
            /\b\w*(password|secret|signature|api_key)\w*\s*[!=]==(?!\s*(null|undefined|'')\W)/i.test(line),
          )
          .map((line) => `${f.path}: ${line.trim()}`),
      );
    expect(suspicious).toEqual([]);
  });

  it('Basic auth: a wrong password of any length is refused, the right one and the rotation one accepted', () => {
    const verify = basicAuthVerifier('marqeta', 'a-password-of-twenty-chars', 'the-next-password-of-twenty');
    const header = (password: string) => `Basic ${Buffer.from(`marqeta:${password}`).toString('base64')}`;
    expect(verify(header('a-password-of-twenty-chars'))).toBe(true);
    expect(verify(header('the-next-password-of-twenty'))).toBe(true);
    for (const wrong of [
      '',
      'a',
      'a-password-of-twenty-char',
      'a-password-of-twenty-chars!',
      'x'.repeat(10_000),
    ]) {
      expect(verify(header(wrong))).toBe(false);
    }
    expect(verify(undefined)).toBe(false);
  });
});
