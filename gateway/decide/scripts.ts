// Loads the Lua scripts beside this file as Redis commands (EVALSHA, with EVAL on NOSCRIPT).
// Each file is named <name>-<numberOfKeys>.lua; the package version is part of the command
// name so two deployed versions never call each other's script.

import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import pkg from '../../package.json' with { type: 'json' };

const here = dirname(fileURLToPath(import.meta.url));
const SCRIPT_FILE = /^([a-z]+)-(\d+)\.lua$/;

type RedisReply = string | number | null | RedisReply[];
type ScriptCall = (...keys_then_args: Array<string | number>) => Promise<RedisReply>;

export interface DecisionScripts {
  decide: ScriptCall;
  void: ScriptCall;
  fill: ScriptCall;
  refresh: ScriptCall;
}

export function loadScripts(redis: Redis): DecisionScripts {
  const version = pkg.version.replaceAll('.', '_');
  const calls: Record<string, ScriptCall> = {};
  for (const file of readdirSync(here)) {
    const match = SCRIPT_FILE.exec(file);
    if (match === null) continue;
    const [, name, keys] = match as unknown as [string, string, string];
    const command = `afc_${name}_v${version}`;
    redis.defineCommand(command, { numberOfKeys: Number(keys), lua: readFileSync(join(here, file), 'utf8') });
    const bound = (redis as unknown as Record<string, ScriptCall>)[command]!.bind(redis);
    calls[name] = bound;
  }
  for (const name of ['decide', 'void', 'fill', 'refresh']) {
    if (calls[name] === undefined) throw new Error(`Lua script ${name}-N.lua is missing from ${here}`);
  }
  return calls as unknown as DecisionScripts;
}
