"""Python Celery as the producer: sends one scenario by task name to the tq worker and prints
what Celery's own client sees (result, state, traceback, timing) as one JSON line.

usage: producer.py <scenario>   (env as in celery_app.py; TQ_INTEROP_CUSTOM_QUEUE for "custom-queue")
"""
import json
import os
import sys
import time

from celery_app import app

TIMEOUT = 15


def main(scenario):
    started = time.time()
    if scenario == 'args-kwargs':
        res = app.send_task('tq.add', args=(2, 3), kwargs={'z': 10})
        out = {'result': res.get(timeout=TIMEOUT)}
    elif scenario == 'failure':
        res = app.send_task('tq.fail', args=('boom from python',))
        try:
            res.get(timeout=TIMEOUT)
            out = {'raised': None}
        except Exception as exc:  # the reconstructed remote exception
            out = {'raised': type(exc).__name__, 'message': str(exc)}
        out.update(state=res.state, traceback=res.traceback)
    elif scenario == 'countdown':
        res = app.send_task('tq.add', args=(1, 1), countdown=1.5)
        out = {'result': res.get(timeout=TIMEOUT)}
    elif scenario == 'retry':
        res = app.send_task('tq.flaky', args=(1,))
        out = {'result': res.get(timeout=TIMEOUT)}
    elif scenario == 'custom-queue':
        res = app.send_task('tq.where', queue=os.environ['TQ_INTEROP_CUSTOM_QUEUE'])
        out = {'result': res.get(timeout=TIMEOUT)}
    elif scenario == 'priority':
        # Python's Redis priorities: 0 is served first. Sent while no worker consumes.
        ids = [app.send_task('tq.add', args=(p, 0), priority=p).id for p in (9, 5, 0)]
        out = {'ids': ids}
    elif scenario == 'extended':
        res = app.send_task('tq.add', args=(2, 3), kwargs={'z': 10})
        result = res.get(timeout=TIMEOUT)
        out = {'result': result, 'name': res.name, 'args': res.args, 'kwargs': res.kwargs, 'worker': res.worker, 'retries': res.retries, 'queue': res.queue}
    elif scenario == 'gzip':
        # task_compression='gzip': kombu's zlib stream, named by the 'compression' header.
        res = app.send_task('tq.add', args=(2, 3), kwargs={'z': 10}, compression='gzip')
        out = {'result': res.get(timeout=TIMEOUT)}
    elif scenario == 'non-finite':
        # json.dumps writes these as NaN, Infinity and -Infinity.
        res = app.send_task('tq.describe', args=(float('nan'), float('inf'), -float('inf')))
        out = {'result': res.get(timeout=TIMEOUT)}
    elif scenario == 'soft-limit':
        # The tq task lets the soft limit's SoftTimeLimitExceeded out, as a Python task would.
        from billiard.exceptions import SoftTimeLimitExceeded
        res = app.send_task('tq.wait', soft_time_limit=0.3)
        try:
            res.get(timeout=TIMEOUT)
            out = {'caught': None}
        except SoftTimeLimitExceeded as exc:
            out = {'caught': f'{type(exc).__module__}.{type(exc).__name__}'}
    elif scenario == 'max-retries':
        from celery.exceptions import MaxRetriesExceededError
        res = app.send_task('tq.never')
        try:
            res.get(timeout=TIMEOUT)
            out = {'caught': None}
        except MaxRetriesExceededError as exc:
            out = {'caught': f'{type(exc).__module__}.{type(exc).__name__}', 'message': str(exc)}
    else:
        raise SystemExit(f'unknown scenario {scenario}')
    out['elapsed'] = time.time() - started
    print(json.dumps(out))


if __name__ == '__main__':
    main(sys.argv[1])
