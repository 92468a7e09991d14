import type { App } from '../app.js';
import { deadLetterSummary, type DeadLetter, type DeadLetterFilter } from '../dead/dead-letters.js';
import { TqError } from '../errors.js';

export const deadHelp = `tq dead list|show ID|replay [ID…]|purge [ID…] [options]

The dead letters of a queue (the messages no worker would run: rejected, poison, malformed), in
every broker's dead-letter store ("<queue>.dead").
  list              print the matching dead letters (id, task, when, code, replays, reason)
  show ID           print one dead letter in full (headers and body) as JSON
  replay [ID…]      publish the matching ones back to their queue with their original id and
                    headers plus x-tq-replays (incremented), then remove them from the store
  purge [ID…]       delete the matching ones for good (needs --force)
  -Q, --queue Q     the queue they died on (default: the app's default queue)
  --task NAME       only this task
  --since WHEN      only those dead-lettered since WHEN: an ISO time or an age (30s, 15m, 2h, 7d)
  --limit N         at most N
  --json            list: one JSON object a line
  -f, --force       purge: really delete`;

export const deadOptions = {
  queue: { type: 'string', short: 'Q' },
  task: { type: 'string' },
  since: { type: 'string' },
  limit: { type: 'string' },
  json: { type: 'boolean' },
  force: { type: 'boolean', short: 'f' },
} as const;

const ageUnits: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** An ISO time, or an age such as "15m" counted back from `now`. */
export function parseSince(text: string, now = Date.now()): Date {
  const age = /^(\d+(?:\.\d+)?)([smhd])$/.exec(text);
  if (age) return new Date(now - Number(age[1]) * ageUnits[age[2]!]!);
  const date = new Date(text);
  if (!Number.isFinite(date.getTime())) throw new TqError('TQ_CONFIG_INVALID', `--since must be an ISO time or an age like 30s, 15m, 2h, 7d; got "${text}"`);
  return date;
}

function decodeBody(letter: DeadLetter): unknown {
  const text = new TextDecoder().decode(letter.body);
  if (letter.contentType === 'application/json') {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}


/** `tq dead …`; returns the exit code. `usage` builds the caller's usage error. */
export async function runDead(
  app: App,
  positionals: readonly string[],
  values: Record<string, string | boolean | undefined>,
  usage: (message: string) => Error,
): Promise<number> {
  const [action, ...ids] = positionals;
  const filter: DeadLetterFilter = {
    queue: typeof values['queue'] === 'string' ? values['queue'] : app.config.defaultQueue,
    ...(typeof values['task'] === 'string' ? { task: values['task'] } : {}),
    ...(typeof values['since'] === 'string' ? { since: parseSince(values['since']) } : {}),
    ...(typeof values['limit'] === 'string' ? { limit: Number(values['limit']) } : {}),
    ...(ids.length && action !== 'show' ? { ids } : {}),
  };
  const out = (line: string) => process.stdout.write(`${line}\n`);
  switch (action) {
    case 'list': {
      if (ids.length) throw usage('tq dead list takes no ids (use show ID)');
      const letters = await app.deadLetters.list(filter);
      if (values['json']) {
        for (const letter of letters) out(JSON.stringify(deadLetterSummary(letter)));
        return 0;
      }
      out(['id', 'task', 'dead at', 'code', 'replays', 'reason'].join('\t'));
      for (const l of letters) out([l.id ?? '-', l.task ?? '-', l.deadAt?.toISOString() ?? '-', l.code ?? '-', String(l.replays), l.reason ?? '-'].join('\t'));
      process.stderr.write(`${letters.length} dead letter(s) in ${app.deadLetters.queueOf(filter.queue)}\n`);
      return 0;
    }
    case 'show': {
      if (ids.length !== 1) throw usage('usage: tq dead show ID [--queue Q]');
      const letter = await app.deadLetters.show(filter.queue, ids[0]!);
      if (!letter) {
        process.stderr.write(`no dead letter ${ids[0]} in ${app.deadLetters.queueOf(filter.queue)}\n`);
        return 1;
      }
      out(JSON.stringify({ ...deadLetterSummary(letter), headers: letter.headers, contentType: letter.contentType, body: decodeBody(letter) }, null, 2));
      return 0;
    }
    case 'replay': {
      const replayed = await app.deadLetters.replay(filter);
      for (const l of replayed) out(`${l.id ?? '-'}\t${l.task ?? '-'}\t→ ${l.queue}`);
      process.stderr.write(`replayed ${replayed.length} dead letter(s)\n`);
      // Ids asked for by name and not found: say which, and fail (as `show` does).
      const missing = ids.filter((id) => !replayed.some((letter) => letter.id === id));
      if (missing.length > 0) process.stderr.write(`no dead letter ${missing.join(', ')} in ${app.deadLetters.queueOf(filter.queue)}\n`);
      return missing.length > 0 ? 1 : 0;
    }
    case 'purge': {
      if (!values['force']) throw usage('tq dead purge deletes dead letters for good: add --force');
      const purged = await app.deadLetters.purge(filter);
      process.stderr.write(`purged ${purged.length} dead letter(s) from ${app.deadLetters.queueOf(filter.queue)}\n`);
      return 0;
    }
    default:
      throw usage('usage: tq dead list|show ID|replay [ID…]|purge [ID…] --force [--queue Q] [--task NAME] [--since WHEN] [--limit N]');
  }
}
