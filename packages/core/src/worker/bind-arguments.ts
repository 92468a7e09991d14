import { nearest } from '../adapters/resolve.js';
import { ArgumentBindingError } from '../errors.js';
import type { TaskDefinition } from '../task.js';

/**
 * The positional arguments a task function is called with. With `params` declared, keyword
 * arguments bind by name as in Python (unknown, missing or doubled ones throw
 * ArgumentBindingError). Without, kwargs are appended as one object, as before; but when the
 * function has more parameters than it would receive, kwargs meant for named parameters would
 * land in the wrong place silently, so that fails too.
 */
export function bindArguments(definition: TaskDefinition, args: readonly unknown[], kwargs: Readonly<Record<string, unknown>>, kwargsGiven: boolean): readonly unknown[] {
  const params = definition.options.params;
  if (params === undefined) {
    if (!kwargsGiven) return args;
    if (definition.fn.length > args.length + 1) {
      throw new ArgumentBindingError(
        definition.name,
        `got keyword arguments (${Object.keys(kwargs).join(', ')}) but declares no parameter names: register it with { params: [...] } so they bind by name`,
      );
    }
    return [...args, kwargs];
  }
  const names = params.map((p) => (p.endsWith('?') ? p.slice(0, -1) : p));
  if (args.length > names.length) {
    throw new ArgumentBindingError(definition.name, `takes ${names.length} positional argument${names.length === 1 ? '' : 's'} but ${args.length} were given`);
  }
  const bound: unknown[] = [...args];
  for (const key of Object.keys(kwargs)) {
    const index = names.indexOf(key);
    if (index === -1) {
      const suggestion = nearest(key, names);
      throw new ArgumentBindingError(definition.name, `got an unexpected keyword argument "${key}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`, key);
    }
    if (index < args.length) throw new ArgumentBindingError(definition.name, `got multiple values for argument "${key}"`, key);
    bound[index] = kwargs[key];
  }
  for (let i = args.length; i < names.length; i++) {
    if (!(i in bound) && !params[i]!.endsWith('?')) throw new ArgumentBindingError(definition.name, `missing required argument "${names[i]}"`, names[i]);
  }
  bound.length = names.length;
  return bound;
}
