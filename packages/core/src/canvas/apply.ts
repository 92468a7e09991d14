import { randomUUID } from 'node:crypto';
import type { App } from '../app.js';
import type { HeaderValue } from '../broker/broker.js';
import { MessageDecodeError, UnsupportedError } from '../errors.js';
import type { EmbeddedOptions } from '../protocol/message.js';
import type { SendOptions } from '../producer/send-options.js';
import type { AsyncResult } from '../result/async-result.js';
import { GroupResult } from './group-result.js';
import { fromSignatureDict, isSignatureDict, Signature, type CanvasResult, type SignatureDict, type SignatureOptions } from './signature.js';

export interface ApplyInput {
  /** Prepended to the signature's args unless it is immutable (a parent's result). */
  readonly args?: readonly unknown[];
  readonly kwargs?: Readonly<Record<string, unknown>>;
  /** Celery-named options merged over the signature's own (parent_id, root_id, chain, …). */
  readonly options?: SignatureOptions;
  /** Makes the ids the canvas needs (tasks, groups, chord bodies) that are not set yet. Default: random UUIDs. */
  readonly newId?: (path: string) => string;
}

/** Celery's rpc backend refusal (celery/backends/rpc.py E_NO_CHORD_SUPPORT), word for word. */
export const noChordSupportMessage = `The "rpc" result backend does not support chords!

Note that a group chained with a task is also upgraded to be a chord,
as this pattern requires synchronization.

Result backends that supports chords: Redis, Database, Memcached, and more.`;

const randomId = (): string => randomUUID();

/**
 * Sends a signature of any kind: a task (also celery.map/starmap, which are tasks), a chain, a
 * group, a chord or chunks. Used by Signature.applyAsync and by the worker for callbacks, chain
 * steps and chord bodies, so a canvas is applied the same way wherever it is applied.
 */
export function applySignature(app: App, sig: Signature | SignatureDict, input: ApplyInput = {}): Promise<CanvasResult> {
  const signature = fromSignatureDict(app, sig);
  switch (signature.subtaskType) {
    case 'chain':
      return applyChain(app, signature, input);
    case 'group':
      return applyGroup(app, signature, input);
    case 'chord':
      return applyChord(app, signature, input);
    case 'chunks':
      return applyChunks(app, signature, input);
    default:
      return applyTask(app, signature, input);
  }
}

function listOf(value: unknown): unknown[] {
  if (value === null || value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

function signatureList(value: unknown): HeaderValue[] | null {
  const list = listOf(value).map((item) => (item instanceof Signature ? item.toJSON() : item));
  for (const item of list) if (!isSignatureDict(item)) throw new MessageDecodeError('signature', `not a signature: ${JSON.stringify(item)?.slice(0, 200)}`);
  return list.length ? (list as unknown as HeaderValue[]) : null;
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function optionalNumber(value: unknown): number | undefined {
  return typeof value === 'number' ? value : undefined;
}

/** Celery's apply_async options (snake_case, in signature.options) as tq SendOptions. */
export function sendOptionsOf(options: SignatureOptions): SendOptions {
  const chord = options['chord'];
  const embed: EmbeddedOptions = {
    callbacks: signatureList(options['link']),
    errbacks: signatureList(options['link_error']),
    chain: signatureList(options['chain']),
    chord: chord === null || chord === undefined ? null : ((chord instanceof Signature ? chord.toJSON() : chord) as unknown as HeaderValue),
  };
  const hasEmbed = embed.callbacks || embed.errbacks || embed.chain || embed.chord;
  const send: Record<string, unknown> = {};
  const set = (key: keyof SendOptions, value: unknown) => {
    if (value !== undefined && value !== null) send[key] = value;
  };
  set('taskId', optionalString(options['task_id']));
  set('queue', optionalString(options['queue']));
  set('countdown', optionalNumber(options['countdown']));
  set('eta', options['eta'] as SendOptions['eta']);
  set('expires', options['expires'] as SendOptions['expires']);
  set('priority', optionalNumber(options['priority']));
  set('timeLimit', optionalNumber(options['time_limit']));
  set('softTimeLimit', optionalNumber(options['soft_time_limit']));
  set('parentId', optionalString(options['parent_id']));
  set('rootId', optionalString(options['root_id']));
  set('group', optionalString(options['group_id']));
  set('groupIndex', optionalNumber(options['group_index']));
  set('replyTo', optionalString(options['reply_to']));
  set('shadow', optionalString(options['shadow']));
  if (typeof options['ignore_result'] === 'boolean') send['ignoreResult'] = options['ignore_result'];
  if (options['headers'] && typeof options['headers'] === 'object') send['headers'] = options['headers'];
  if (hasEmbed) send['embed'] = embed;
  return send as SendOptions;
}

/** Celery's Signature._merge: partial args first unless immutable; options merged over the signature's. */
function merged(sig: Signature, input: ApplyInput): { args: unknown[]; kwargs: Record<string, unknown>; options: SignatureOptions } {
  const options = { ...sig.options, ...input.options };
  if (sig.immutable) return { args: sig.args, kwargs: sig.kwargs, options };
  return { args: [...(input.args ?? []), ...sig.args], kwargs: { ...sig.kwargs, ...input.kwargs }, options };
}

async function applyTask(app: App, sig: Signature, input: ApplyInput): Promise<AsyncResult> {
  const { args, kwargs, options } = merged(sig, input);
  if (options['task_id'] === undefined) options['task_id'] = (input.newId ?? randomId)('');
  return app.sendTask(sig.task, args, kwargs, sendOptionsOf(options));
}

function tasksOf(sig: Signature, key: 'tasks' | 'header'): Signature[] {
  let value = sig.kwargs[key];
  // A chord header may arrive as a group signature rather than a list of its tasks.
  if (isSignatureDict(value) && value.subtask_type === 'group') value = value.kwargs['tasks'];
  if (!Array.isArray(value)) throw new MessageDecodeError('signature', `${sig.task}: kwargs.${key} must be a list of signatures`);
  return value.map((item) => fromSignatureDict(sig.app, item).clone());
}

/** Options a container passes on to its members: not its own id, callbacks or chord/chain wiring. */
function memberOptions(options: SignatureOptions): SignatureOptions {
  const { task_id: _id, link: _l, link_error: _e, chain: _c, chord: _ch, group_id: _g, group_index: _gi, ...rest } = options;
  return rest;
}

async function applyGroup(app: App, sig: Signature, input: ApplyInput, chordBody?: SignatureDict): Promise<GroupResult> {
  // A group's own kwargs hold its tasks; the call's kwargs go to every member.
  const options = { ...sig.options, ...input.options };
  const args = sig.immutable ? sig.args : [...(input.args ?? []), ...sig.args];
  const kwargs = input.kwargs ?? {};
  if (options['link']) throw new UnsupportedError('cannot add a link to a group: use a chord (Celery refuses it too)');
  const newId = input.newId ?? randomId;
  const groupId = optionalString(options['task_id']) ?? newId('g');
  const passOn = memberOptions(options);
  const errbacks = listOf(options['link_error']);
  const members = tasksOf(sig, 'tasks');
  const results = await Promise.all(
    members.map((member, index) => {
      for (const errback of errbacks) member.linkError(fromSignatureDict(app, errback));
      const own: SignatureOptions = { ...passOn, group_id: groupId };
      // Celery numbers the members of a chord header only (a plain group's group_index is null).
      if (chordBody) Object.assign(own, { group_index: index, chord: chordBody });
      return applySignature(app, member, { args, kwargs, options: own, newId: (path) => newId(`${path}/${index}`) });
    }),
  );
  return new GroupResult(groupId, results, () => app.backend());
}

/**
 * Celery 5.2's group._freeze_unroll for a chord header: groups nested in it (at any depth) are
 * replaced by their tasks, taken with deque.extendleft, so a nested group's members come in
 * reverse order (chord([a, group(b, c)], body) gives the body [a, c, b] on Celery 5.2, and on tq).
 */
function unrollGroups(members: readonly Signature[]): Signature[] {
  const stack = [...members];
  const flat: Signature[] = [];
  while (stack.length) {
    const member = stack.shift()!;
    if (member.subtaskType === 'group') stack.unshift(...tasksOf(member, 'tasks').reverse());
    else flat.push(member);
  }
  return flat;
}

/**
 * How many header results complete the chord: Celery's chord._descend summed over the header.
 * A task counts 1, a chain what its last counting step counts, a nested chord what its body
 * counts (its body reports to this chord), a group the sum of its members.
 */
function chordSize(members: readonly Signature[]): number {
  return members.reduce((total, member) => total + descend(member), 0);
}

/** True for a task signature, or a chain whose last step (at any depth) is one. */
function endsInTask(value: unknown): boolean {
  if (!isSignatureDict(value) && !(value instanceof Signature)) return false;
  const sig = fromSignatureDict(null, value);
  if (sig.subtaskType === 'chain') {
    const steps = listOf(sig.kwargs['tasks']);
    return steps.length > 0 && endsInTask(steps[steps.length - 1]);
  }
  return !['group', 'chord', 'chunks'].includes(sig.subtaskType ?? '');
}

function descend(sig: Signature): number {
  switch (sig.subtaskType) {
    case 'group':
      return chordSize(tasksOf(sig, 'tasks'));
    case 'chain': {
      const steps = tasksOf(sig, 'tasks');
      for (let i = steps.length - 1; i >= 0; i--) {
        const size = descend(steps[i]!);
        if (size > 0) return size;
      }
      return 0;
    }
    case 'chord': {
      const body = sig.kwargs['body'];
      return isSignatureDict(body) || body instanceof Signature ? descend(fromSignatureDict(sig.app, body)) : 1;
    }
    default:
      return 1;
  }
}

async function applyChord(app: App, sig: Signature, input: ApplyInput): Promise<AsyncResult> {
  const options = { ...sig.options, ...input.options };
  const args = sig.immutable ? sig.args : [...(input.args ?? []), ...sig.args];
  const newId = input.newId ?? randomId;
  // Nested groups join the header (Celery's unroll); a nested chord stays one member whose body
  // reports to this chord (applyGroup gives it this chord's group id, index and body).
  const header = unrollGroups(tasksOf(sig, 'header'));
  for (const member of header) {
    if (member.subtaskType === 'chord' && !endsInTask(member.kwargs['body'])) {
      // Its body's members would not report here: refuse rather than leave this body waiting forever.
      throw new UnsupportedError('a chord inside a chord header needs a body that is a task or a chain ending in a task');
    }
  }
  const bodyValue = sig.kwargs['body'];
  if (!isSignatureDict(bodyValue) && !(bodyValue instanceof Signature)) throw new MessageDecodeError('signature', 'celery.chord: kwargs.body must be a signature');
  const body = fromSignatureDict(app, bodyValue).clone();
  // As chord.run: the chord's task_id is the body's; every other option goes to the body, and the
  // header gets them without chain, chord and task_id.
  const { task_id: chordTaskId, ...forBody } = options;
  // Celery's body.freeze(task_id) keeps an id the body already has (Python's chain upgrade sets
  // the chord's task_id to the header group's id and the body's own id inside the body).
  const bodyId = optionalString(body.options['task_id']) ?? optionalString(chordTaskId) ?? newId('body');
  Object.assign(body.options, forBody, { task_id: bodyId });
  const { chain: _chain, chord: _chord, link: _link, link_error: _linkError, group_id: _groupId, group_index: _groupIndex, ...forHeader } = options;
  const backend = await app.backend();
  if (!backend) throw new UnsupportedError('a chord needs a result backend to count its header results: set resultBackend');
  if (backend.inner.replyAddress) throw new UnsupportedError(noChordSupportMessage);
  const headerValue = sig.kwargs['header'];
  const headerGroupId = isSignatureDict(headerValue) ? optionalString(headerValue.options?.['task_id']) : undefined;
  const groupId = headerGroupId ?? newId('chord');
  const bodyResult = app.asyncResult(bodyId);
  if (header.length === 0) {
    await applySignature(app, body, { args: [[]], newId });
    return bodyResult;
  }
  const join = backend.capabilities.chordJoin === true && backend.inner.chordSetSize !== undefined && backend.inner.chordPartReturn !== undefined;
  if (join) await backend.inner.chordSetSize!(groupId, chordSize(header), { ttlMs: app.config.resultTtlMs });
  const headerSig = new Signature(app, 'celery.group', args, { tasks: header.map((h) => h.toJSON()) }, { ...forHeader, task_id: groupId }, { subtaskType: 'group' });
  const headerResult = await applyGroup(app, headerSig, { kwargs: input.kwargs ?? {}, newId }, body.toJSON());
  if (!join) {
    // Celery's fallback for backends without a native join (backends/base.py fallback_chord_unlock).
    await app.sendTask('celery.chord_unlock', [groupId, body.toJSON()], { interval: null, max_retries: null, result: headerResult.results.map((r) => r.asTuple()) }, {
      countdown: 1,
      ignoreResult: true,
      ...(typeof body.options['queue'] === 'string' ? { queue: body.options['queue'] } : {}),
    });
  }
  bodyResult.parent = headerResult;
  return bodyResult;
}

/** chunks(task, it, n): a group of celery.starmap tasks over parts of n items. */
async function applyChunks(app: App, sig: Signature, input: ApplyInput): Promise<GroupResult> {
  const task = sig.kwargs['task'];
  const it = sig.kwargs['it'];
  const n = sig.kwargs['n'];
  if (!isSignatureDict(task) || !Array.isArray(it) || typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw new MessageDecodeError('signature', 'celery.chunks: kwargs must be {task: signature, it: list, n: positive integer}');
  }
  const parts: Record<string, unknown>[] = [];
  for (let i = 0; i < it.length; i += n) {
    parts.push(new Signature(app, 'celery.starmap', [], { task, it: it.slice(i, i + n) }, {}, { subtaskType: 'xstarmap', immutable: true }).toJSON() as unknown as Record<string, unknown>);
  }
  const group = new Signature(app, 'celery.group', [], { tasks: parts }, { ...sig.options }, { subtaskType: 'group' });
  return applyGroup(app, group, { ...input, args: [] });
}

/**
 * Celery's chain.run/prepare_steps: walks the steps from the last, splices nested chains,
 * upgrades a group followed by a step to a chord, gives every step its id, then sends the first
 * step with the rest in `chain` (last step first: the worker pops from the end).
 */
async function applyChain(app: App, sig: Signature, input: ApplyInput): Promise<CanvasResult> {
  const options = { ...sig.options, ...input.options };
  const args = sig.immutable ? sig.args : [...(input.args ?? []), ...sig.args];
  const newId = input.newId ?? randomId;
  const { task_id: lastTaskId, link, link_error: linkError, group_id: groupId, group_index: groupIndex, chord: chordBody, chain: _chain, ...rest } = options;
  const steps = tasksOf(sig, 'tasks');
  if (steps.length === 0) throw new MessageDecodeError('signature', 'an empty chain has nothing to apply');
  const prepared: Signature[] = [];
  let index = 0;
  while (steps.length) {
    let step = steps.pop()!;
    if (step.subtaskType === 'chain') {
      steps.push(...tasksOf(step, 'tasks'));
      continue;
    }
    const isFirst = steps.length === 0;
    const isLast = index === 0;
    if (isFirst && args.length && !step.immutable) step.args = [...args, ...step.args];
    if (step.subtaskType === 'group' && prepared.length > 0) {
      // group | next  →  chord(group, next), with the next step's id as the chord's (its body's).
      const next = prepared.pop()!;
      step = new Signature(app, 'celery.chord', [], { kwargs: {}, header: tasksOf(step, 'tasks').map((t) => t.toJSON()), body: next.toJSON() }, { task_id: next.options['task_id'] }, { subtaskType: 'chord' });
    }
    if (step.options['task_id'] === undefined) step.options['task_id'] = isLast && typeof lastTaskId === 'string' ? lastTaskId : newId(`chain/${index}`);
    if (step.subtaskType === 'group') {
      // Member ids are fixed now, so the chain's result handle is a GroupResult of the real ids.
      const members = tasksOf(step, 'tasks');
      members.forEach((member, j) => {
        if (member.subtaskType === null && member.options['task_id'] === undefined) member.options['task_id'] = newId(`chain/${index}/${j}`);
      });
      step.kwargs['tasks'] = members.map((m) => m.toJSON());
    }
    if (typeof rest['root_id'] === 'string') step.options['root_id'] = rest['root_id'];
    if (isLast) {
      if (groupId !== undefined) step.options['group_id'] = groupId;
      if (groupIndex !== undefined) step.options['group_index'] = groupIndex;
      if (chordBody !== undefined) step.options['chord'] = chordBody;
      for (const callback of listOf(link)) step.link(fromSignatureDict(app, callback));
    }
    for (const errback of listOf(linkError)) step.linkError(fromSignatureDict(app, errback));
    prepared.push(step);
    index++;
  }
  const first = prepared.pop()!;
  const firstOptions: SignatureOptions = { ...rest };
  if (prepared.length) firstOptions['chain'] = prepared.map((s) => s.toJSON());
  const firstResult = await applySignature(app, first, { kwargs: input.kwargs ?? {}, options: firstOptions, newId });
  if (prepared.length === 0) return firstResult;
  // Handles on every step, each with its predecessor as parent; the last one is returned.
  let parent: CanvasResult = firstResult;
  for (let i = prepared.length - 1; i >= 0; i--) {
    const handle = handleOf(app, prepared[i]!);
    handle.parent = parent;
    parent = handle;
  }
  return parent;
}

/** The result handle of a prepared (id-assigned) chain step: a GroupResult for a group, else the task's (a chord's body's). */
function handleOf(app: App, step: Signature): CanvasResult {
  const id = step.options['task_id'] as string;
  if (step.subtaskType !== 'group') return app.asyncResult(id);
  const members = tasksOf(step, 'tasks').map((m) => handleOf(app, m));
  return new GroupResult(id, members, () => app.backend());
}
