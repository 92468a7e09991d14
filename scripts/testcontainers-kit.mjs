#!/usr/bin/env node
// Runs the conformance kit for Redis and NATS once through the harness's Testcontainers branch
// (TQ_TEST_SOURCE=testcontainers: brokers in containers on the host network, images never pulled),
// one Vitest process per broker, side by side. scripts/test-all.mjs runs it next to the other suites.
//
// Brings Docker up the way ../shared/containers/README.md says (dockerd with no bridge, no
// iptables, no NAT; images built from this host's own redis-server and nats-server), and stops
// the dockerd it started. Under CI=true a Docker engine that cannot be brought up is a failure;
// elsewhere the run is skipped with the reason. Exit code: 0 passed or skipped, 1 failed.
//
// Usage: node scripts/testcontainers-kit.mjs [--report-dir DIR]   (Vitest JSON reports DIR/redis.json, DIR/nats.json)
// Env: TQ_CONTAINERS_SCRIPTS (folder of start-dockerd.sh, stop-dockerd.sh, build-hostbin.sh;
// default ../shared/containers beside the repository), TQ_TEST_REDIS_IMAGE, TQ_TEST_NATS_IMAGE.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const root = new URL('..', import.meta.url).pathname;
const { values } = parseArgs({ options: { 'report-dir': { type: 'string' } } });
const required = process.env['CI'] === 'true' || process.env['CI'] === '1';
const began = Date.now();
const seconds = (since) => ((Date.now() - since) / 1000).toFixed(1);
const say = (line) => console.log(`[testcontainers] ${line}`);

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });
  return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}`.trim(), status: result.status };
}

function skipOrFail(why) {
  if (required) {
    say(`FAILED: ${why} (CI=true: the Testcontainers branch must run)`);
    process.exit(1);
  }
  say(`skipped: ${why}`);
  process.exit(0);
}

const scriptsDir = [process.env['TQ_CONTAINERS_SCRIPTS'], resolve(root, '../shared/containers'), '/work/shared/containers'].find(
  (dir) => dir && existsSync(join(dir, 'start-dockerd.sh')),
);
const dockerAnswers = () => run('docker', ['info', '--format', '{{.ServerVersion}}']).ok;

let startedDockerd = false;
if (!dockerAnswers()) {
  if (!scriptsDir) skipOrFail('no Docker engine answers and start-dockerd.sh was not found (set TQ_CONTAINERS_SCRIPTS)');
  if (!run('sh', ['-c', 'command -v dockerd']).ok) skipOrFail('dockerd is not installed (apt-get install docker.io busybox-static; scripts/setup.sh does)');
  const start = Date.now();
  const started = run('bash', [join(scriptsDir, 'start-dockerd.sh')]);
  if (!started.ok || !dockerAnswers()) skipOrFail(`start-dockerd.sh failed: ${started.output.split('\n').slice(-5).join(' | ')}`);
  startedDockerd = true;
  say(`dockerd started (no bridge, no iptables) in ${seconds(start)} s`);
}

let status = 1;
try {
  const images = { redis: process.env['TQ_TEST_REDIS_IMAGE'] || 'redis:7-alpine', nats: process.env['TQ_TEST_NATS_IMAGE'] || 'nats:2-alpine' };
  const absent = Object.entries(images).filter(([, image]) => !run('docker', ['image', 'inspect', image]).ok);
  if (absent.length) {
    const overridden = absent.filter(([broker]) => process.env[`TQ_TEST_${broker.toUpperCase()}_IMAGE`]);
    if (overridden.length) throw new Error(`image ${overridden.map(([, image]) => image).join(', ')} is absent and is not one build-hostbin.sh makes`);
    if (!scriptsDir) throw new Error(`images ${absent.map(([, image]) => image).join(', ')} are absent and build-hostbin.sh was not found`);
    const start = Date.now();
    const built = run('bash', [join(scriptsDir, 'build-hostbin.sh'), ...absent.map(([broker]) => broker)]);
    if (!built.ok) throw new Error(`build-hostbin.sh failed: ${built.output.split('\n').slice(-5).join(' | ')}`);
    say(`built ${absent.map(([, image]) => image).join(', ')} from this host's servers in ${seconds(start)} s`);
  }
  // One Vitest process per broker, side by side: the project runs its files one at a time, and
  // the two kits mostly wait on their brokers.
  const kit = Date.now();
  const { FORCE_COLOR: _forceColor, ...withoutForceColor } = process.env;
  const codes = await Promise.all(
    Object.keys(images).map(async (broker) => {
      const started = Date.now();
      const report = values['report-dir'] ? ['--reporter=default', '--reporter=json', `--outputFile.json=${resolve(values['report-dir'], `${broker}.json`)}`] : [];
      const child = spawn('npx', ['vitest', 'run', '--project', 'brokers', ...report, `test/conformance-${broker}.test.ts`], {
        cwd: join(root, 'integration'),
        // NO_COLOR: this output goes to a log file (FORCE_COLOR, even 0, turns Vitest's colours on).
        env: { ...withoutForceColor, TQ_TEST_SOURCE: 'testcontainers', TQ_TEST_REPORT: '', NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      for (const stream of [child.stdout, child.stderr]) {
        createInterface({ input: stream }).on('line', (line) => console.log(`[${broker}] ${line}`));
      }
      const code = await new Promise((done) => child.on('close', (exit) => done(exit ?? 1)));
      say(`kit for ${broker} through Testcontainers: ${code === 0 ? 'passed' : 'FAILED'} in ${seconds(started)} s`);
      return code;
    }),
  );
  status = codes.every((code) => code === 0) ? 0 : 1;
  say(`kits for Redis and NATS through Testcontainers: ${status === 0 ? 'passed' : 'FAILED'} in ${seconds(kit)} s`);
} catch (error) {
  say(`FAILED: ${error.message}`);
} finally {
  if (startedDockerd && scriptsDir) {
    const stopped = run('bash', [join(scriptsDir, 'stop-dockerd.sh')]);
    say(`dockerd stopped: ${stopped.output.split('\n').pop()}`);
  }
  say(`total ${seconds(began)} s`);
}
process.exit(status === 0 ? 0 : 1);
