/**
 * Reads back the Python repr that Celery events carry for args and kwargs ("(2, 'x')",
 * "{'n': None}"), so a failed task can be sent again with the same arguments. Only literals:
 * None/True/False, numbers, quoted strings, lists, tuples and dicts. Throws on anything else,
 * including Celery's truncation marks ('...', '[...]'): better to refuse than to resend wrong data.
 */
export function parsePythonLiteral(source: string): unknown {
  let i = 0;
  const fail = (why: string): never => {
    throw new SyntaxError(`${why} at ${i} in ${source.length > 80 ? `${source.slice(0, 80)}…` : source}`);
  };
  const skip = () => {
    while (i < source.length && /\s/.test(source[i]!)) i++;
  };
  const sequence = (close: string): unknown[] => {
    const items: unknown[] = [];
    skip();
    while (source[i] !== close) {
      items.push(value());
      skip();
      if (source[i] === ',') {
        i++;
        skip();
      } else if (source[i] !== close) fail(`expected , or ${close}`);
    }
    i++;
    return items;
  };
  const string = (): string => {
    const quote = source[i++]!;
    let out = '';
    while (i < source.length && source[i] !== quote) {
      let ch = source[i++]!;
      if (ch === '\\') {
        const esc = source[i++];
        const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0' };
        if (esc !== undefined && esc in simple) ch = simple[esc]!;
        else if (esc === 'x' || esc === 'u') {
          const len = esc === 'x' ? 2 : 4;
          ch = String.fromCharCode(parseInt(source.slice(i, i + len), 16));
          i += len;
        } else fail('unknown escape');
      }
      out += ch;
    }
    if (source[i] !== quote) fail('unterminated string');
    i++;
    return out;
  };
  const value = (): unknown => {
    skip();
    const ch = source[i];
    if (ch === '(') return (i++, sequence(')'));
    if (ch === '[') return (i++, sequence(']'));
    if (ch === "'" || ch === '"') return string();
    if (ch === '{') {
      i++;
      const out: Record<string, unknown> = {};
      skip();
      while (source[i] !== '}') {
        const key = value();
        skip();
        if (source[i++] !== ':') fail('expected :');
        out[String(key)] = value();
        skip();
        if (source[i] === ',') {
          i++;
          skip();
        } else if (source[i] !== '}') fail('expected , or }');
      }
      i++;
      return out;
    }
    const word = /^(None|True|False|-?\d+(\.\d+)?([eE][-+]?\d+)?)/.exec(source.slice(i));
    if (!word) return fail('not a literal');
    i += word[0].length;
    if (word[0] === 'None') return null;
    if (word[0] === 'True') return true;
    if (word[0] === 'False') return false;
    return Number(word[0]);
  };
  const result = value();
  skip();
  if (i !== source.length) fail('unexpected text');
  return result;
}
