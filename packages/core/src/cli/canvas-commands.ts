import { readFile } from 'node:fs/promises';
import type { App } from '../app.js';
import { applySignature } from '../canvas/apply.js';
import { GroupResult } from '../canvas/group-result.js';
import { fromSignatureDict, type CanvasResult } from '../canvas/signature.js';
import { TqError } from '../errors.js';
import { AsyncResult } from '../result/async-result.js';
import { readyStates, TaskState } from '../result/states.js';

function summary(value: unknown): string {
  const text = JSON.stringify(value) ?? 'null';
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

async function line(result: AsyncResult): Promise<string> {
  const record = await result.record();
  const state = record?.status ?? TaskState.PENDING;
  const name = record?.name ? ` ${record.name}` : '';
  const value = record && readyStates.has(state) ? ` ${summary(record.result)}` : '';
  return `${result.id}${name} ${state}${value}`;
}

/**
 * `tq result ID --tree`: the task and everything it applied (its record's children, Celery's
 * format), depth first: chain steps, callbacks, groups and chord bodies.
 */
export async function printResultTree(app: App, id: string, write: (text: string) => void = (t) => process.stdout.write(t)): Promise<void> {
  const seen = new Set<string>();
  const walk = async (node: AsyncResult | GroupResult, prefix: string, childPrefix: string): Promise<void> => {
    if (seen.has(node.id)) return;
    seen.add(node.id);
    if (node instanceof GroupResult) {
      write(`${prefix}group ${node.id}\n`);
      await walkAll(node.results, childPrefix);
      return;
    }
    write(`${prefix}${await line(node)}\n`);
    await walkAll(await node.children(), childPrefix);
  };
  const walkAll = async (nodes: readonly (AsyncResult | GroupResult)[], prefix: string): Promise<void> => {
    for (const [i, child] of nodes.entries()) {
      const last = i === nodes.length - 1;
      await walk(child, `${prefix}${last ? '└─ ' : '├─ '}`, `${prefix}${last ? '   ' : '│  '}`);
    }
  };
  await walk(app.asyncResult(id), '', '');
}

/** Every task handle of an applied canvas, in order: a chain's steps from the first, a group's members, a chord's header then body. */
function stepsOf(result: CanvasResult): AsyncResult[] {
  const own = result instanceof GroupResult ? result.results.flatMap(stepsOf) : [result];
  return result.parent ? [...stepsOf(result.parent), ...own] : own;
}

/**
 * `tq call --canvas FILE [--wait]`: sends a canvas written as Celery's signature dict (a chain,
 * group, chord, or one task); prints the id of its result, and with --wait each step's state as
 * it changes, then the result as JSON.
 */
export async function runCanvasCall(app: App, file: string, options: { wait: boolean; timeoutSeconds?: number | undefined }): Promise<number> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new TqError('TQ_CONFIG_INVALID', `--canvas ${file}: not a readable JSON file (${(error as Error).message})`);
  }
  const result = await applySignature(app, fromSignatureDict(app, parsed));
  process.stdout.write(`${result.id}\n`);
  if (!options.wait) return 0;
  const steps = stepsOf(result);
  const states = new Map<string, string>();
  const deadline = options.timeoutSeconds !== undefined ? Date.now() + options.timeoutSeconds * 1000 : Number.POSITIVE_INFINITY;
  for (;;) {
    for (const [index, step] of steps.entries()) {
      const state = await step.state();
      if (states.get(step.id) !== state) {
        states.set(step.id, state);
        process.stdout.write(`step ${index + 1}/${steps.length} ${step.id} ${state}\n`);
      }
    }
    const finals = result instanceof GroupResult ? result.results : [result];
    const done = finals.every((r) => readyStates.has(states.get(r.id) ?? TaskState.PENDING)) || [...states.values()].includes(TaskState.FAILURE);
    if (done) break;
    if (Date.now() > deadline) {
      process.stderr.write(`tq call: not finished within ${options.timeoutSeconds}s; check later with "tq result ${result.id} --tree"\n`);
      return 1;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const value = await result.get({ timeout: 5000 });
  process.stdout.write(`${JSON.stringify(value) ?? 'null'}\n`);
  return 0;
}
