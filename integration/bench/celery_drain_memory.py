"""Python Celery 5.2's worker memory at a Redis drain with concurrency 100: the Celery column of
issue #17's memory figure (worker peak RSS at drain c=100, which the pairs measure for tq and
BullMQ).

Each run: N tasks of the bench's shape (args [i, i + 1, text], ~300 bytes of JSON, a no-op body)
are sent first, then `celery worker -c 100` starts (prefetch multiplier 4, Celery's default) and
drains them. Printed per run: the rate, timed from the N/5th completion to the last; the worker's
memory over its whole process tree (the main process and, with prefork, its 100 children):
- peak RSS: each process's own peak (VmHWM) added up, what `ps` would show summed; with prefork
  this counts the pages the children share with the main process once per child;
- peak PSS: the largest sum of proportional set sizes (/proc/<pid>/smaps_rollup, sampled every
  0.5 s), shared pages split between the processes that share them: what the tree costs the host;
- the main process's own peak RSS: with the threads pool the whole worker, comparable with a
  tq or BullMQ worker's peak RSS.

Results stored: the result database's size counts the tasks done. Results ignored
(task_ignore_result): each task INCRs a counter there instead (a round trip per task on top of
Celery's work; this measures memory, and the rate only says how long the drain took).

usage: /usr/bin/python3 integration/bench/celery_drain_memory.py [--pool prefork|threads]
       [--results stored|ignored] [--tasks 20000] [--runs 3]
env: TQ_BENCH_REDIS_URL (default redis://127.0.0.1:6379/12) and TQ_BENCH_REDIS_RESULT_URL
(default .../13), as lib/endpoints.mjs; both databases are flushed.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

import redis
from celery import Celery

from celery_bench import BACKEND, BROKER, flush_and_fill

QUEUE = 'tq-bench-celery-memory'
COUNTER = 'tq-bench-celery-memory-done'
IGNORED = os.environ.get('TQ_BENCH_CELERY_RESULTS') == 'ignored'

app = Celery('celery_drain_memory', broker=BROKER, backend=BACKEND)
app.conf.task_default_queue = QUEUE
app.conf.task_ignore_result = IGNORED
_counter = None


@app.task(name='bench.noop')
def noop(*args):
    if IGNORED:
        global _counter
        _counter = _counter or redis.Redis.from_url(BACKEND)
        _counter.incr(COUNTER)
    return None


def process_tree(pid):
    """`pid` and every process below it (Linux: /proc/<pid>/task/<tid>/children)."""
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        try:
            for tid in os.listdir(f'/proc/{current}/task'):
                with open(f'/proc/{current}/task/{tid}/children') as children:
                    pending.extend(int(child) for child in children.read().split())
        except OSError:
            pass  # exited meanwhile
    return tree


def proc_kb(pid, file, field):
    """A "Field: N kB" line of /proc/<pid>/<file> (status, smaps_rollup), in kB; 0 once the process is gone."""
    try:
        with open(f'/proc/{pid}/{file}') as lines:
            for line in lines:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def done_count(results):
    if IGNORED:
        return int(results.get(COUNTER) or 0)
    return results.dbsize()  # only result records live in the result database


def drain(tasks, pool):
    results = redis.Redis.from_url(BACKEND)
    flush_and_fill(app, QUEUE, tasks)
    command = [sys.executable, '-m', 'celery', '-A', 'celery_drain_memory', 'worker', '-P', pool,
               '-c', '100', '--prefetch-multiplier', '4', '-Q', QUEUE, '-l', 'warning',
               '--without-gossip', '--without-mingle', '--without-heartbeat']
    worker = subprocess.Popen(command, cwd=os.path.dirname(os.path.abspath(__file__)),
                              env={**os.environ, 'TQ_BENCH_CELERY_RESULTS': 'ignored' if IGNORED else 'stored'},
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    started_at = started_count = None
    peak_pss = 0
    next_sample = 0.0
    deadline = time.monotonic() + 600
    try:
        while True:
            now = time.monotonic()
            if now >= next_sample:
                peak_pss = max(peak_pss, sum(proc_kb(pid, 'smaps_rollup', 'Pss') for pid in process_tree(worker.pid)))
                next_sample = now + 0.5
            done = done_count(results)
            if started_at is None and done >= tasks // 5:
                started_at, started_count = now, done
            if done >= tasks:
                rate = (tasks - started_count) / (now - started_at)
                tree = process_tree(worker.pid)
                peak_rss_sum = sum(proc_kb(pid, 'status', 'VmHWM') for pid in tree)
                return {'rate': rate, 'processes': len(tree), 'peak_rss_sum_mb': peak_rss_sum / 1024,
                        'peak_pss_mb': peak_pss / 1024, 'main_peak_rss_mb': proc_kb(worker.pid, 'status', 'VmHWM') / 1024}
            if worker.poll() is not None:
                sys.exit(f'the Celery worker exited ({worker.returncode}): {worker.stderr.read().decode()[-2000:]}')
            if now > deadline:
                sys.exit(f'the drain did not finish in 600 s ({done} of {tasks} done)')
            time.sleep(0.02)
    finally:
        worker.terminate()
        worker.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--pool', choices=['prefork', 'threads'], default='prefork')
    parser.add_argument('--results', choices=['stored', 'ignored'], default='stored')
    parser.add_argument('--tasks', type=int, default=20000)
    parser.add_argument('--runs', type=int, default=3)
    options = parser.parse_args()
    if (options.results == 'ignored') != IGNORED:
        # The module's app reads the mode at import: run again with it set.
        env = {**os.environ, 'TQ_BENCH_CELERY_RESULTS': options.results}
        sys.exit(subprocess.call([sys.executable, os.path.abspath(__file__), *sys.argv[1:]], env=env))
    runs = []
    for run in range(1, options.runs + 1):
        figures = drain(options.tasks, options.pool)
        runs.append(figures)
        print(f'run {run}: {figures["rate"]:.0f} tasks/s, {figures["processes"]} processes, '
              f'peak RSS summed {figures["peak_rss_sum_mb"]:.0f} MB, peak PSS {figures["peak_pss_mb"]:.0f} MB, '
              f'main process peak RSS {figures["main_peak_rss_mb"]:.0f} MB', flush=True)
    median = lambda key: statistics.median(figures[key] for figures in runs)  # noqa: E731
    print(f'Celery 5.2 redis drain c=100 ({options.pool}), results {options.results}, {options.tasks} tasks, '
          f'medians of {len(runs)}: {median("rate"):.0f} tasks/s, peak RSS summed {median("peak_rss_sum_mb"):.0f} MB, '
          f'peak PSS {median("peak_pss_mb"):.0f} MB, main process {median("main_peak_rss_mb"):.0f} MB')


if __name__ == '__main__':
    main()
