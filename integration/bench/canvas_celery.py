"""Celery 5.2's side of canvas.mjs: one workflow, sent and awaited by Python Celery's own client on
the worker canvas.mjs started, after one untimed chain (so connecting is not timed):
  chain N     N 10-step chains one after the other
  parallel N  N 10-step chains sent at once, then awaited
  chord N     one chord of N add tasks whose body sums them
Prints one JSON line: {"seconds": ...}.

usage: canvas_celery.py WORKFLOW N   (env as in ../celery-interop/redis/celery_app.py)
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'celery-interop', 'redis'))

from celery import chain, chord  # noqa: E402

from celery_app import app  # noqa: E402


def sig(name, *args):
    return app.signature(name, args=args)


def ten_steps():
    return chain(sig('tq.add', 0, 1), *[sig('tq.add', 1) for _ in range(9)])


def check(value):
    assert value == 10, value


def one_at_a_time(n):
    for _ in range(n):
        check(ten_steps().apply_async().get(timeout=120))


def all_at_once(n):
    sent = [ten_steps().apply_async() for _ in range(n)]
    for result in sent:
        check(result.get(timeout=120))


def one_chord(n):
    total = chord([sig('tq.add', i, i) for i in range(n)], sig('tq.xsum')).apply_async().get(timeout=600)
    assert total == n * (n - 1), total


def main(workflow, n):
    run = {'chain': one_at_a_time, 'parallel': all_at_once, 'chord': one_chord}[workflow]
    check(ten_steps().apply_async().get(timeout=120))
    started = time.perf_counter()
    run(n)
    print(json.dumps({'seconds': time.perf_counter() - started}))


if __name__ == '__main__':
    main(sys.argv[1], int(sys.argv[2]))
