// Dead-letter queue CLI for any work queue:
//   npm run dlq -- list [--queue afc.decisions] [--limit 100] [--json]
//   npm run dlq -- show <n> [--queue ...]
//   npm run dlq -- replay (--all | <n>) [--queue ...]
//   npm run dlq -- purge [--queue ...]
// <n> is a 1-based position as `list` prints it. Replay republishes to the work queue with
// publisher confirms, then removes the message from the DLQ (attempt headers reset).
// Exit codes: 0 done, 64 usage error, 78 configuration error, 1 failure.

import { parseArgs } from 'node:util';
import { connectRabbit } from '../../shared/broker/connection.ts';
import { QUEUE_DECISIONS } from '../../shared/broker/topology.ts';
import { loadOrExit, loadWorkerConfig } from '../../shared/config.ts';
import { createLogger } from '../../shared/logger.ts';
import {
  type DeadLetter,
  listDeadLetters,
  purgeDeadLetters,
  replayDeadLetters,
  showDeadLetter,
} from '../../shared/broker/dead-letters.ts';

const USAGE =
  'usage: dlq list|show <n>|replay (--all|<n>)|purge [--queue <work queue>] [--limit <n>] [--json]';
const LIST_LIMIT_DEFAULT = 100;

function usage(problem: string): never {
  process.stderr.write(`${problem}\n${USAGE}\n`);
  process.exit(64);
}

function position(text: string | undefined): number {
  if (text === undefined || !/^[1-9]\d{0,5}$/.test(text)) usage('expected a position <n> (1, 2, ...)');
  return Number(text);
}

function row(letter: DeadLetter): string {
  return [
    letter.position,
    letter.message_id ?? '-',
    letter.routing_key ?? '-',
    letter.attempts ?? '-',
    letter.reason ?? '-',
  ].join('\t');
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    queue: { type: 'string', default: QUEUE_DECISIONS },
    limit: { type: 'string', default: String(LIST_LIMIT_DEFAULT) },
    all: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const [command, argument] = positionals;
const queue = values.queue;
if (!/^[A-Za-z0-9_.:-]{1,200}$/.test(queue)) usage(`bad queue name "${queue}"`);

const config = loadOrExit(() => loadWorkerConfig());
const log = createLogger('dlq-cli', config.log_level === 'info' ? 'warn' : config.log_level);
const rabbit = connectRabbit(config, 'afc-dlq-cli', log);
const print = (text: string) => process.stdout.write(`${text}\n`);

try {
  switch (command) {
    case 'list': {
      const letters = await listDeadLetters(rabbit, queue, position(values.limit));
      if (values.json)
        print(JSON.stringify(letters.map(({ body: _body, headers: _headers, ...summary }) => summary)));
      else {
        print(['#', 'message_id', 'routing_key', 'attempts', 'reason'].join('\t'));
        for (const letter of letters) print(row(letter));
        print(
          `${letters.length} message(s) in ${queue}.dlq${letters.length === position(values.limit) ? ' (limit reached)' : ''}`,
        );
      }
      break;
    }
    case 'show': {
      const letter = await showDeadLetter(rabbit, queue, position(argument));
      if (letter === null) {
        process.stderr.write(`no message at position ${argument} in ${queue}.dlq\n`);
        process.exitCode = 1;
      } else
        print(
          JSON.stringify(letter, (_key, value) => (typeof value === 'bigint' ? value.toString() : value), 2),
        );
      break;
    }
    case 'replay': {
      if (values.all === (argument !== undefined)) usage('replay takes either --all or one position <n>');
      const replayed = await replayDeadLetters(rabbit, queue, values.all ? 'all' : position(argument));
      print(`replayed ${replayed} message(s) from ${queue}.dlq to ${queue}`);
      if (replayed === 0) process.exitCode = 1;
      break;
    }
    case 'purge':
      print(`purged ${await purgeDeadLetters(rabbit, queue)} message(s) from ${queue}.dlq`);
      break;
    default:
      usage(command === undefined ? 'missing command' : `unknown command "${command}"`);
  }
} catch (error) {
  process.stderr.write(`dlq ${command} failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  await rabbit.close();
}
