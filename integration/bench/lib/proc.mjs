// CPU and memory of the measured phase of a run, from /proc: this process's CPU (utime + stime
// of /proc/self/stat), the broker server's CPU (its /proc/<pid>/stat), its peak RSS (VmHWM, reset
// at the start of the phase), and how much CPU the rest of the machine used meanwhile (/proc/stat
// busy time minus both): a run where others used more than a set share is noisy.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

const ticksPerSecond = 100; // USER_HZ: 100 on every Linux the bench runs on (getconf CLK_TCK)

/** utime + stime of `pid` in clock ticks, or undefined when it cannot be read. */
export function processTicks(pid = 'self') {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm)": the command name may hold spaces, so split after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of proc(5))
  } catch {
    return undefined;
  }
}

/** Busy clock ticks of the whole machine (every CPU): user, nice, system, irq, softirq, steal. */
export function machineBusyTicks() {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return user + nice + system + irq + softirq + (steal || 0);
}

/** A /proc/<pid>/status field in kB (VmHWM = peak RSS, VmRSS = current RSS). */
export function statusKb(field, pid = 'self') {
  try {
    const match = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Resets this process's peak RSS to its current RSS (Linux ≥ 4.0: "5" > /proc/self/clear_refs). */
export function resetPeakRss() {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

const brokerProcessNames = { redis: 'redis-server', nats: 'nats-server', amqp: 'beam.smp' };
const brokerPorts = { redis: '6379', nats: '4222', amqp: '' };

/** The pid of the local broker server of `broker` (by process name and port), if it runs here. */
export function brokerPid(broker) {
  const name = brokerProcessNames[broker];
  if (!name) return undefined;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== name) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (!brokerPorts[broker] || cmdline.includes(brokerPorts[broker])) return Number(entry);
    } catch {
      // the process ended while we looked
    }
  }
  return undefined;
}

/**
 * The measured phase of one run: start() before the timed work, stop() after it; figures(tasks)
 * gives CPU µs per task of this process and of the broker, peak RSS (MB) in the phase, and the
 * cores the rest of the machine used on average. A system that never calls start() reports none.
 */
export function measuredPhase(broker) {
  const pid = brokerPid(broker);
  let begin;
  let end;
  let childSeconds = 0;
  let childPeakRssMb;
  const sample = () => ({ at: performance.now(), own: processTicks(), broker: pid ? processTicks(pid) : undefined, machine: machineBusyTicks() });
  return {
    /**
     * `collect: false` at the end of a warm-up, mid-drain: a forced full GC there slowed the
     * thousands of tasks after it (CPU per task +50 % at c=1, tq and BullMQ alike), which a
     * worker never does by itself.
     */
    start({ collect = true } = {}) {
      if (collect) globalThis.gc?.(); // what the fill left behind is not the worker's memory
      resetPeakRss();
      begin = sample();
    },
    stop() {
      if (begin && !end) end = sample();
    },
    /** CPU and peak RSS of worker processes this run started (the scale scenario): theirs, not noise. */
    addChild(cpuSeconds, peakRssMb) {
      childSeconds += cpuSeconds;
      childPeakRssMb = Math.max(childPeakRssMb ?? 0, peakRssMb);
    },
    figures(tasks) {
      if (!begin || !end) return {};
      const seconds = (end.at - begin.at) / 1000;
      const own = (end.own - begin.own) / ticksPerSecond + childSeconds;
      const brokerCpu = begin.broker !== undefined && end.broker !== undefined ? (end.broker - begin.broker) / ticksPerSecond : 0;
      const machine = (end.machine - begin.machine) / ticksPerSecond;
      return {
        cpuUsPerTask: (own * 1e6) / tasks,
        brokerCpuUsPerTask: pid ? (brokerCpu * 1e6) / tasks : undefined,
        peakRssMb: childPeakRssMb ?? (statusKb('VmHWM') ?? 0) / 1024,
        otherCores: Math.max(0, (machine - own - brokerCpu) / seconds),
        phaseMs: end.at - begin.at,
      };
    },
  };
}
