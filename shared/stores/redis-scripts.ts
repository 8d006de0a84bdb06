// One loader for every Lua script of every process (the gateway's decision scripts, the
// management API's balance write): a file `<name>-<numberOfKeys>.lua` becomes a Redis command
// (EVALSHA, with EVAL on NOSCRIPT) whose name carries the package version, so two deployed
// versions never call each other's script.

import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import pkg from '../../package.json' with { type: 'json' };

const SCRIPT_FILE = /^([a-z-]+?)-(\d+)\.lua$/;

export type RedisReply = string | number | null | RedisReply[];
/** A loaded script: its KEYS (exactly as many as its file name says), then its ARGV. */
export type ScriptCall = (
  keys: readonly string[],
  args: ReadonlyArray<string | number>,
) => Promise<RedisReply>;

export function loadScript(redis: Redis, file: URL): ScriptCall {
  const match = SCRIPT_FILE.exec(basename(fileURLToPath(file)));
  if (match === null) throw new Error(`${file.pathname}: a script file is named <name>-<numberOfKeys>.lua`);
  const [, name, keys_text] = match as unknown as [string, string, string];
  const key_count = Number(keys_text);
  const command = `afc_${name.replaceAll('-', '_')}_v${pkg.version.replaceAll('.', '_')}`;
  redis.defineCommand(command, { numberOfKeys: key_count, lua: readFileSync(file, 'utf8') });
  const call = (redis as unknown as Record<string, (...args: Array<string | number>) => Promise<RedisReply>>)[
    command
  ]!.bind(redis);
  return (keys, args) => {
    if (keys.length !== key_count)
      throw new RangeError(`${name}: ${key_count} keys expected, got ${keys.length}`);
    return call(...keys, ...args);
  };
}
