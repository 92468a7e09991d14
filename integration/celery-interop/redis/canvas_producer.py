"""Python Celery builds a canvas (chain, group, chord, link, link_error, map, starmap, chunks)
and reads the outcome with its own client; the tasks run wherever the queues send them (a tq
worker in canvas-interop.test.ts). Prints one JSON line.

usage: canvas_producer.py <scenario>   (env as in celery_app.py)
"""
import json
import os
import sys
import time
import uuid

from celery import chain, chord, group
from celery.canvas import chunks, xmap, xstarmap

from celery_app import app

TIMEOUT = 20


def sig(name, *args, **options):
    return app.signature(name, args=args, **options)


def wait_children(res):
    for _ in range(200):
        fresh = app.AsyncResult(res.id)
        if fresh.children:
            return fresh.children
        time.sleep(0.05)
    return []


def main(scenario):
    if scenario == 'chain':
        res = chain(sig('tq.add', 2, 3), sig('tq.mul', 10), sig('tq.add', 5)).apply_async()
        out = {'result': res.get(timeout=TIMEOUT), 'parent': res.parent.get(timeout=TIMEOUT), 'root': res.parent.parent.get(timeout=TIMEOUT)}
    elif scenario == 'group':
        res = group(sig('tq.add', i, i) for i in range(4)).apply_async()
        out = {'result': res.get(timeout=TIMEOUT)}
    elif scenario == 'chord':
        res = chord([sig('tq.add', 1, 1), sig('tq.add', 2, 2), sig('tq.add', 3, 3)], sig('tq.xsum')).apply_async()
        out = {'result': res.get(timeout=TIMEOUT)}
    elif scenario == 'nested-chord':
        # A group and a chord directly in a chord header: Celery unrolls the group into the
        # header and the inner chord's body reports to the outer chord.
        inner = chord([sig('tq.add', 4, 4), sig('tq.add', 5, 5)], sig('tq.xsum'))
        res = chord([sig('tq.add', 1, 1), group(sig('tq.add', 2, 2), sig('tq.add', 3, 3)), inner], sig('tq.listed')).apply_async()
        out = {'result': res.get(timeout=TIMEOUT)}
    elif scenario == 'chord-failure':
        res = chord([sig('tq.add', 1, 1), sig('tq.fail', 'bad member')], sig('tq.xsum')).apply_async()
        try:
            res.get(timeout=TIMEOUT)
            out = {'raised': None}
        except Exception as exc:  # Celery re-raises the failed header member's error (the parent's) first
            out = {'raised': type(exc).__name__, 'failed_id': res.parent.results[1].id}
        # The body's own record: FAILURE with a ChordError naming the member.
        for _ in range(200):
            meta = app.backend.get_task_meta(res.id)
            if meta['status'] == 'FAILURE':
                break
            time.sleep(0.05)
        body = app.AsyncResult(res.id)
        out.update(body_state=meta['status'], body_error=type(body.result).__name__, body_message=str(body.result))
    elif scenario == 'nested':
        res = chain(sig('tq.add', 1, 1), group(sig('tq.add', 1), sig('tq.add', 2)), sig('tq.xsum')).apply_async()
        out = {'result': res.get(timeout=TIMEOUT)}
    elif scenario == 'link':
        res = app.send_task('tq.add', args=(1, 2), link=sig('tq.mul', 10))
        value = res.get(timeout=TIMEOUT)
        children = wait_children(res)
        out = {'result': value, 'child': children[0].get(timeout=TIMEOUT) if children else None}
    elif scenario == 'link-error':
        known = str(uuid.uuid4())
        res = app.send_task('tq.fail', args=('x',), link_error=sig('tq.noted').set(task_id=known))
        try:
            res.get(timeout=TIMEOUT)
        except Exception:
            pass
        out = {'failed_id': res.id, 'errback': app.AsyncResult(known).get(timeout=TIMEOUT)}
    elif scenario == 'chain-failure':
        res = chain(sig('tq.add', 1, 1), sig('tq.fail'), sig('tq.mul', 2)).apply_async()
        try:
            res.get(timeout=TIMEOUT)
            out = {'raised': None}
        except Exception as exc:
            out = {'raised': type(exc).__name__, 'state': res.state}
    elif scenario == 'map':
        out = {'result': xmap(sig('tq.double'), [1, 2, 3]).apply_async().get(timeout=TIMEOUT)}
    elif scenario == 'starmap':
        out = {'result': xstarmap(sig('tq.add'), [(1, 2), (3, 4)]).apply_async().get(timeout=TIMEOUT)}
    elif scenario == 'chunks':
        out = {'result': chunks(sig('tq.add'), [(1, 1), (2, 2), (3, 3)], 2).apply_async().get(timeout=TIMEOUT)}
    elif scenario == 'mixed-chord':
        custom = os.environ['TQ_INTEROP_CUSTOM_QUEUE']
        header = [sig('tq.add', i, i, queue=(custom if i % 2 else app.conf.task_default_queue)) for i in range(1, 7)]
        res = chord(header, sig('tq.xsum')).apply_async()
        out = {'result': res.get(timeout=TIMEOUT)}
    else:
        raise SystemExit(f'unknown scenario {scenario}')
    print(json.dumps(out))


if __name__ == '__main__':
    main(sys.argv[1])
