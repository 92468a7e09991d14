"""Python Celery as the producer for issue #15: keyword arguments bound by name on a tq worker,
and integers beyond 2^53 sent and read back exactly. Prints one JSON line.

usage: send_by_name.py <scenario>   (env as in celery_app.py)
"""
import json
import sys

from celery_app import app

TIMEOUT = 15
BIG = 2 ** 64 + 1


def outcome(res):
    try:
        return {'result': res.get(timeout=TIMEOUT), 'state': res.state}
    except Exception as exc:  # the reconstructed remote exception
        return {'raised': type(exc).__name__, 'message': str(exc), 'state': res.state}


def main(scenario):
    if scenario == 'kwargs':
        out = outcome(app.send_task('tq.named', kwargs={'x': 2, 'y': 3}))
    elif scenario == 'kwargs-mixed':
        out = outcome(app.send_task('tq.named', args=(2,), kwargs={'y': 30}))
    elif scenario == 'kwargs-unknown':
        out = outcome(app.send_task('tq.named', kwargs={'x': 2, 'yy': 3}))
    elif scenario == 'kwargs-undeclared':
        out = outcome(app.send_task('tq.positional', kwargs={'x': 2, 'y': 3}))
    elif scenario == 'bigint':
        out = outcome(app.send_task('tq.big', args=(BIG,)))
        out['exact'] = out.get('result', {}).get('next') == BIG + 1
    else:
        raise SystemExit(f'unknown scenario {scenario}')
    print(json.dumps(out))


if __name__ == '__main__':
    main(sys.argv[1])
