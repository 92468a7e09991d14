"""Celery 5.2's side of canvas.mjs: the same 10-step chains and 1,000-member chord, sent and
awaited by Python Celery's own client, on the worker canvas.mjs started: one untimed chain, CHAINS
chains one after the other, PARALLEL chains sent at once and then awaited, one chord of MEMBERS.
Prints one JSON line.

usage: canvas_celery.py CHAINS PARALLEL MEMBERS   (env as in ../celery-interop/redis/celery_app.py)
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


def main(chains, parallel, members):
    check(ten_steps().apply_async().get(timeout=120))
    started = time.perf_counter()
    for _ in range(chains):
        check(ten_steps().apply_async().get(timeout=120))
    chain_s = time.perf_counter() - started
    started = time.perf_counter()
    sent = [ten_steps().apply_async() for _ in range(parallel)]
    for result in sent:
        check(result.get(timeout=120))
    parallel_s = time.perf_counter() - started
    started = time.perf_counter()
    total = chord([sig('tq.add', i, i) for i in range(members)], sig('tq.xsum')).apply_async().get(timeout=600)
    assert total == members * (members - 1), total
    chord_s = time.perf_counter() - started
    print(json.dumps({'chain_s': chain_s, 'parallel_s': parallel_s, 'chord_s': chord_s}))


if __name__ == '__main__':
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
