import { existsSync } from 'node:fs';

let answer: Promise<boolean> | undefined;

/**
 * True when a Docker engine answers (so Testcontainers can start brokers). Checks for a socket
 * or DOCKER_HOST first, so machines without Docker do not wait on Testcontainers' discovery.
 */
export function dockerAnswers(): Promise<boolean> {
  answer ??= (async () => {
    if (process.env['TQ_TEST_NO_DOCKER'] === '1') return false;
    if (!process.env['DOCKER_HOST'] && !existsSync('/var/run/docker.sock')) return false;
    try {
      const { getContainerRuntimeClient } = await import('testcontainers');
      const client = await Promise.race([
        getContainerRuntimeClient(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 10_000).unref()),
      ]);
      return Boolean(client);
    } catch {
      return false;
    }
  })();
  return answer;
}
