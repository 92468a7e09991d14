import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * What one scenario measured on one broker, written as
 * `<TQ_FAULTS_RESULTS or integration/faults/results>/<broker>-<scenario>.json`;
 * scripts/faults-table.mjs turns the files into the faults table of docs/guarantees.md.
 */
export interface ScenarioFigures {
  readonly broker: string;
  readonly scenario: string;
  /** Tasks sent (good ones; bad input and poison messages are counted apart). */
  readonly tasks: number;
  readonly lost: number;
  readonly duplicates: number;
  /** Tasks started and not finished when the fault ended. */
  readonly inFlight: number;
  /** From the fault until tq noticed it (a reconnect, a redelivery, a dead letter); null: not measured. */
  readonly detectionMs: number | null;
  /** From the fault's end until work flowed again and the in-flight tasks had finished. */
  readonly recoveryMs: number | null;
  /** Where the broker came from (local, env, kafka-mock, a private server…). */
  readonly source: string;
  readonly note?: string;
}

export const defaultResultsDir = fileURLToPath(new URL('../results', import.meta.url));

function write(broker: string, scenario: string, content: object): void {
  const dir = process.env['TQ_FAULTS_RESULTS'] ?? defaultResultsDir;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${broker}-${scenario}.json`), `${JSON.stringify({ broker, scenario, ...content, measuredAt: new Date().toISOString() }, null, 2)}\n`);
}

export function writeFigures(figures: ScenarioFigures): void {
  write(figures.broker, figures.scenario, figures);
}

/** A scenario that cannot run on this broker here, and why (the table shows the reason). */
export function writeSkipped(broker: string, scenario: string, reason: string): void {
  write(broker, scenario, { skipped: reason });
}
