"""Sends one scenario's task(s) by name to the tq worker and prints the outcome as one JSON line.

Usage: python3 producer.py <scenario>   (queues from TQ_INTEROP_QUEUE and TQ_INTEROP_CUSTOM_QUEUE)
"""
import json
import os
import sys
import time

from celery_app import app

QUEUE = os.environ['TQ_INTEROP_QUEUE']
CUSTOM_QUEUE = os.environ['TQ_INTEROP_CUSTOM_QUEUE']
TIMEOUT = 15


def scenario_add():
    result = app.send_task('tq.add', args=(2, 3), kwargs={'z': 1}, queue=QUEUE)
    return {'value': result.get(timeout=TIMEOUT), 'state': result.state}


def scenario_fail():
    result = app.send_task('tq.fail', args=('boom from tq',), queue=QUEUE)
    try:
        result.get(timeout=TIMEOUT)
    except Exception as error:  # the tq task's exception, rebuilt by Celery
        return {'type': type(error).__name__, 'module': type(error).__module__, 'message': str(error),
                'state': result.state, 'traceback': result.traceback}
    return {'type': None}


def scenario_countdown():
    sent = time.time()
    result = app.send_task('tq.now', countdown=2, queue=QUEUE)
    return {'sent': sent, 'ran': result.get(timeout=TIMEOUT)}


def scenario_retry():
    result = app.send_task('tq.retry_once', queue=QUEUE)
    return {'value': result.get(timeout=TIMEOUT), 'state': result.state}


def scenario_custom_queue():
    result = app.send_task('tq.where', queue=CUSTOM_QUEUE)
    return {'value': result.get(timeout=TIMEOUT)}


if __name__ == '__main__':
    outcome = globals()['scenario_' + sys.argv[1]]()
    print(json.dumps(outcome), flush=True)
