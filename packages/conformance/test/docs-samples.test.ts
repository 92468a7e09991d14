/**
 * docs/writing-an-adapter.md must not drift from the exports: every name its samples import
 * from @tq/* exists, and every self-contained TypeScript sample type-checks against the real
 * sources. Samples importing the reader's own files ('../src/…', './…') are only name-checked.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const guide = readFileSync(join(root, 'docs/writing-an-adapter.md'), 'utf8');
const samples = [...guide.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);

const entryFiles: Readonly<Record<string, string>> = {
  '@tq/core/adapter': 'packages/core/src/adapter.ts',
  '@tq/core': 'packages/core/src/index.ts',
  '@tq/conformance': 'packages/conformance/src/index.ts',
};

/** Every `import { a, type B } from '<module>'` of the samples, by module. */
function importedNames(): Map<string, Set<string>> {
  const names = new Map<string, Set<string>>();
  for (const sample of samples) {
    for (const match of sample.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s+from\s+'(@tq\/[^']+)'/g)) {
      const set = names.get(match[2]!) ?? new Set<string>();
      for (const part of match[1]!.split(',')) {
        const name = part.trim().replace(/^type\s+/, '');
        if (name) set.add(name);
      }
      names.set(match[2]!, set);
    }
  }
  return names;
}

describe('docs/writing-an-adapter.md', () => {
  it('has TypeScript samples', () => {
    expect(samples.length).toBeGreaterThan(5);
  });

  it('imports only names the packages export', async () => {
    const missing: string[] = [];
    for (const [module, names] of importedNames()) {
      const file = entryFiles[module];
      expect(file, `samples import from ${module}, which the check does not know`).toBeDefined();
      const runtime = (await import(/* @vite-ignore */ join(root, file!))) as Record<string, unknown>;
      // Type-only exports leave no runtime trace: look for them in the entry file's text (and its `export *` targets).
      const text = readFileSync(join(root, file!), 'utf8');
      for (const name of names) {
        if (name in runtime) continue;
        if (new RegExp(`\\b${name}\\b`).test(text)) continue;
        if (/export \* from/.test(text) && readFileSync(join(root, 'packages/core/src/errors.ts'), 'utf8').includes(name)) continue;
        missing.push(`${module}: ${name}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('self-contained samples type-check against the sources', async () => {
    const dir = join(root, 'packages/conformance/out-tsc/docs-samples');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const files: string[] = [];
    samples.forEach((sample, index) => {
      if (/from '\.\.?\//.test(sample) || /from 'tq-acme'/.test(sample)) return;
      const file = `sample-${index}.ts`;
      // Each sample is its own module (top-level await and local names stay local).
      writeFileSync(join(dir, file), `${sample}\nexport {};\n`);
      files.push(file);
    });
    expect(files.length).toBeGreaterThan(3);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        extends: '../../../../tsconfig.base.json',
        compilerOptions: { noEmit: true, composite: false, declaration: false, declarationMap: false, customConditions: ['@tq/source'], noUnusedLocals: false },
        files,
      }),
    );
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    const result = await promisify(execFile)(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { cwd: dir }).then(
      () => '',
      (error: { stdout?: string }) => error.stdout ?? String(error),
    );
    expect(result, 'tsc errors in the samples (sample-N = the N-th ts block, from 0)').toBe('');
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);
});
