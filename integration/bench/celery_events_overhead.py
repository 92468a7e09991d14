"""What Celery events cost Python Celery 5.2 itself: the reference for events-overhead.mjs.

Interleaved pairs of Redis drains, events off and on (`celery worker -E`), the order alternating
from pair to pair, as events-overhead.mjs pairs tq's. Each drain: N tasks of the bench's shape
(args [i, i + 1, text], ~300 bytes of JSON, a no-op body, results stored) are sent first, then a
prefork worker with concurrency 10 and prefetch multiplier 4 (Celery's default) starts; the rate
is timed from the N/5th stored result to the last, so the worker's start-up is not counted.
Nothing reads the events, as in events-overhead.mjs.

usage: /usr/bin/python3 integration/bench/celery_events_overhead.py [N, default 6000] [PAIRS, default 5]
env: TQ_BENCH_REDIS_URL (default redis://127.0.0.1:6379/12) and TQ_BENCH_REDIS_RESULT_URL
(default .../13), as lib/endpoints.mjs; both databases are flushed.
"""
import os
import subprocess
import sys
import time

import redis
from celery import Celery

from celery_bench import BACKEND, BROKER, flush_and_fill

QUEUE = 'tq-bench-celery-events'

app = Celery('celery_events_overhead', broker=BROKER, backend=BACKEND)
app.conf.task_default_queue = QUEUE


@app.task(name='bench.noop')
def noop(*args):
    return None


def drain(tasks, events):
    results = redis.Redis.from_url(BACKEND)
    flush_and_fill(app, QUEUE, tasks)
    command = [sys.executable, '-m', 'celery', '-A', 'celery_events_overhead', 'worker', '-P', 'prefork',
               '-c', '10', '--prefetch-multiplier', '4', '-Q', QUEUE, '-l', 'warning',
               '--without-gossip', '--without-mingle', '--without-heartbeat'] + (['-E'] if events else [])
    worker = subprocess.Popen(command, cwd=os.path.dirname(os.path.abspath(__file__)),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    started_at = started_count = None
    deadline = time.monotonic() + 300
    try:
        while True:
            # Only result records live in the result database: its size counts the tasks done.
            done = results.dbsize()
            if started_at is None and done >= tasks // 5:
                started_at, started_count = time.monotonic(), done
            if done >= tasks:
                return (tasks - started_count) / (time.monotonic() - started_at)
            if worker.poll() is not None:
                sys.exit(f'the Celery worker exited ({worker.returncode}): {worker.stderr.read().decode()[-2000:]}')
            if time.monotonic() > deadline:
                sys.exit(f'the drain did not finish in 300 s ({done} of {tasks} results)')
            time.sleep(0.02)
    finally:
        worker.terminate()
        worker.wait()


def main():
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 6000
    pairs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    ratios = []
    for pair in range(1, pairs + 1):
        # Off first in odd pairs, on first in even ones, as events-overhead.mjs.
        order = (False, True) if pair % 2 == 1 else (True, False)
        rates = {events: drain(tasks, events) for events in order}
        ratios.append(rates[True] / rates[False])
        print(f'pair {pair}: off {rates[False]:.0f}/s, on {rates[True]:.0f}/s: {ratios[-1]:.2f}x', flush=True)
    ratios.sort()
    print(f'Celery 5.2 redis drain c=10 (prefork), results stored, events on / off: median {ratios[len(ratios) // 2]:.2f}x '
          f'(range {ratios[0]:.2f}-{ratios[-1]:.2f})')


if __name__ == '__main__':
    main()
