/**
 * The harness's Testcontainers side: whether a Docker engine answers (and why not), and brokers
 * started in containers on the host network.
 *
 * Containers run with `--network host` on a free loopback port told to the server on its command
 * line, never on a bridge: on the machines this project runs on a bridge would put test traffic
 * on private-range addresses, and the usual ports (6379, 4222, 5672…) are taken by the machine's
 * own servers. Readiness is a log line (host networking maps no ports to wait on). Images are
 * never pulled: a missing image is an error that names it and says how to build it
 * (see integration/README.md). Every container carries the labels below, so one whose start
 * failed, or whose test process died, is removed by label.
 */
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import type { ContainerRuntimeClient, StartedTestContainer } from 'testcontainers';

/** Set on every container tq's harness starts. */
export const harnessLabel = 'tq.harness';
/** This container's own id: what a failed start is removed by. */
export const containerLabel = 'tq.container';
/** The test process that started it: leftovers of a dead process are removed on the next run. */
export const pidLabel = 'tq.pid';

export interface DockerStatus {
  readonly answers: boolean;
  /** One line for humans: the engine found, or why none is used. */
  readonly reason: string;
}

let status: Promise<DockerStatus> | undefined;

/**
 * Sets Testcontainers' two environment switches this harness needs unless the caller set them:
 * no Ryuk (its image would have to be pulled, and it needs a bridge to publish its port; the
 * harness removes its containers itself, by label) and the host 127.0.0.1 (host networking; without
 * it Testcontainers inside a container looks up the bridge gateway and sends traffic there).
 */
function testcontainersEnvironment(): string {
  process.env['TESTCONTAINERS_RYUK_DISABLED'] ??= 'true';
  process.env['TESTCONTAINERS_HOST_OVERRIDE'] ??= '127.0.0.1';
  return `TESTCONTAINERS_RYUK_DISABLED=${process.env['TESTCONTAINERS_RYUK_DISABLED']}, TESTCONTAINERS_HOST_OVERRIDE=${process.env['TESTCONTAINERS_HOST_OVERRIDE']}`;
}

/**
 * Whether a Docker engine answers, with the reason either way. Checks for a socket or DOCKER_HOST
 * first, so machines without Docker do not wait on Testcontainers' discovery. Asked once per process.
 */
export function dockerStatus(): Promise<DockerStatus> {
  status ??= (async (): Promise<DockerStatus> => {
    if (process.env['TQ_TEST_NO_DOCKER'] === '1') return { answers: false, reason: 'TQ_TEST_NO_DOCKER=1' };
    if (!process.env['DOCKER_HOST'] && !existsSync('/var/run/docker.sock')) {
      return { answers: false, reason: 'no Docker engine (DOCKER_HOST is unset and /var/run/docker.sock does not exist)' };
    }
    const switches = testcontainersEnvironment();
    try {
      const client = await runtimeClient();
      const runtime = client.info.containerRuntime;
      await removeLeftovers(client);
      return { answers: true, reason: `Docker ${runtime.serverVersion} at ${runtime.remoteSocketPath || process.env['DOCKER_HOST']} answers (${switches})` };
    } catch (error) {
      return { answers: false, reason: `the Docker engine did not answer: ${(error as Error).message}` };
    }
  })();
  return status;
}

async function runtimeClient(): Promise<ContainerRuntimeClient> {
  const { getContainerRuntimeClient } = await import('testcontainers');
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      getContainerRuntimeClient(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('no answer in 10 s')), 10_000);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Containers of this harness whose test process is gone (killed before its afterAll ran). */
async function removeLeftovers(client: ContainerRuntimeClient): Promise<void> {
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
  };
  for (const info of await client.container.dockerode.listContainers({ all: true, filters: { label: [harnessLabel] } })) {
    const labels = info.Labels ?? {};
    const owner = Number(labels[pidLabel]);
    if (labels[harnessLabel] && owner && !alive(owner)) await removeContainer(client, info.Id);
  }
}

async function removeContainer(client: ContainerRuntimeClient, id: string): Promise<void> {
  await client.container.dockerode
    .getContainer(id)
    .remove({ force: true, v: true })
    .catch((error: { statusCode?: number }) => {
      if (error.statusCode !== 404) throw error;
    });
}

/** A TCP port free on 127.0.0.1 now (the server in the container binds it a moment later). */
export async function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface HostContainerSpec {
  /** Names the image override, TQ_TEST_<NAME>_IMAGE, and the log lines. */
  readonly name: string;
  readonly defaultImage: string;
  /** How to get the image onto this engine when it is missing (no pull is ever tried). */
  readonly buildHint: string;
  /** The server's command line, listening on `port` (plus other ports from freePort if it needs them). */
  command(port: number): string[] | Promise<string[]>;
  environment?(port: number): Record<string, string> | Promise<Record<string, string>>;
  /** The log line that says the server accepts connections, and how many times it must appear. */
  readonly ready: RegExp;
  readonly readyTimes?: number;
  readonly startupTimeoutMs?: number;
}

export interface HostContainer {
  readonly image: string;
  readonly port: number;
  readonly startedInMs: number;
  readonly container: StartedTestContainer;
  stop(): Promise<void>;
}

export function imageFor(spec: Pick<HostContainerSpec, 'name' | 'defaultImage'>): { image: string; variable: string } {
  const variable = `TQ_TEST_${spec.name.toUpperCase()}_IMAGE`;
  return { image: process.env[variable] || spec.defaultImage, variable };
}

/**
 * Starts `spec` on the host network. Never pulls: the image must already be on the engine.
 * A container whose start fails is removed (by its label) before the error is rethrown.
 */
export async function startHostContainer(spec: HostContainerSpec): Promise<HostContainer> {
  const { GenericContainer, ImageName, Wait } = await import('testcontainers');
  const client = await runtimeClient();
  const { image, variable } = imageFor(spec);
  if (!(await client.image.exists(ImageName.fromString(image)))) {
    throw new Error(`image ${image} is not on this Docker engine and the harness never pulls: ${spec.buildHint}, or set ${variable} to an image that is`);
  }
  const port = await freePort();
  const id = `${spec.name}-${process.pid}-${Date.now().toString(36)}-${port}`;
  const began = Date.now();
  const container = new GenericContainer(image)
    .withNetworkMode('host')
    .withCommand(await spec.command(port))
    .withEnvironment(spec.environment ? await spec.environment(port) : {})
    .withLabels({ [harnessLabel]: 'integration', [containerLabel]: id, [pidLabel]: String(process.pid) })
    .withPullPolicy({ shouldPull: () => false })
    .withWaitStrategy(Wait.forLogMessage(spec.ready, spec.readyTimes ?? 1))
    .withStartupTimeout(spec.startupTimeoutMs ?? 60_000);
  try {
    const started = await container.start();
    return {
      image,
      port,
      startedInMs: Date.now() - began,
      container: started,
      stop: async () => void (await started.stop({ remove: true, removeVolumes: true })),
    };
  } catch (error) {
    const leftovers = await client.container.dockerode.listContainers({ all: true, filters: { label: [`${containerLabel}=${id}`] } });
    await Promise.all(leftovers.map((info) => removeContainer(client, info.Id)));
    throw error;
  }
}
