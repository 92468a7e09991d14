"""Celery's own event consumer, as Flower and `celery events` run it: an EventReceiver bound
to every routing key of the event exchange, feeding celery.events.state.State.

Prints READY once it consumes, EVENT <json> per event as received, the State it built so
far (tasks and workers) as STATE <json> on SIGUSR1, and once more on SIGTERM, then exits 0.
Broker from TQ_MON_BROKER.
"""
import json
import os
import signal

from celery import Celery
from celery.events.state import State

app = Celery('tq_monitor', broker=os.environ['TQ_MON_BROKER'])
state = State()


def on_event(event):
    state.event(event)
    print('EVENT ' + json.dumps(event, default=str), flush=True)


def summary():
    tasks = {}
    for uuid, task in state.tasks.items():
        tasks[uuid] = {
            'state': task.state, 'name': task.name, 'args': task.args, 'kwargs': task.kwargs,
            'result': task.result, 'runtime': task.runtime, 'exception': task.exception,
            'traceback': task.traceback, 'sent': task.sent, 'received': task.received,
            'started': task.started, 'succeeded': task.succeeded, 'failed': task.failed,
            'worker': task.worker.hostname if task.worker else None,
        }
    workers = {}
    for hostname, worker in state.workers.items():
        workers[hostname] = {
            'alive': worker.alive, 'active': worker.active, 'processed': worker.processed,
            'sw_ident': worker.sw_ident, 'sw_ver': worker.sw_ver, 'sw_sys': worker.sw_sys,
            'freq': worker.freq, 'loadavg': worker.loadavg, 'heartbeats': len(worker.heartbeats),
        }
    return {'tasks': tasks, 'workers': workers}


with app.connection_for_read() as connection:
    receiver = app.events.Receiver(connection, handlers={'*': on_event})

    def stop(*_):
        receiver.should_stop = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGUSR1, lambda *_: print('STATE ' + json.dumps(summary(), default=str), flush=True))
    receiver.on_consume_ready = lambda *args, **kwargs: print('READY', flush=True)
    receiver.capture(limit=None, timeout=None, wakeup=False)

print('STATE ' + json.dumps(summary(), default=str), flush=True)
