"""kombu's own ack emulation against tq's bookkeeping (the shared "unacked" hash and index).

usage (env as in celery_app.py; TQ_INTEROP_PREFIX isolates the keys):
  kombu_unacked.py send <queue>                   Celery send_task('tq.add', (1, 2)) to <queue>; prints {"id": …}
  kombu_unacked.py take <queue>                   basic_get without ack, then die (no restore at shutdown)
  kombu_unacked.py restore <visibility_timeout>   kombu's QoS.restore_visible once; prints {"restored": n}
  kombu_unacked.py drain <queue>                  basic_get (acked) until empty; prints {"order": [[task id, priority], …]}
"""
import json
import os
import sys

from kombu import Connection

from celery_app import app, url

prefix = os.environ.get('TQ_INTEROP_PREFIX', '')
command, arg = sys.argv[1], sys.argv[2]


def connection(**options):
    return Connection(url, transport_options={'global_keyprefix': prefix, **options})


if command == 'send':
    print(json.dumps({'id': app.send_task('tq.add', args=(1, 2), queue=arg).id}))
elif command == 'take':
    conn = connection()
    message = conn.default_channel.basic_get(arg, no_ack=False)
    print(json.dumps({'id': message.headers['id'] if message else None}), flush=True)
    os._exit(0)  # a crash: kombu gets no chance to restore the delivery at shutdown
elif command == 'restore':
    with connection(visibility_timeout=float(arg)) as conn:
        channel = conn.default_channel
        # ZCARD is not among the commands kombu prefixes: add the prefix by hand.
        index = prefix + channel.unacked_index_key
        before = channel.client.zcard(index)
        channel.qos.restore_visible(num=100)
        print(json.dumps({'restored': before - channel.client.zcard(index)}))
elif command == 'drain':
    order = []
    with connection() as conn:
        while True:
            message = conn.default_channel.basic_get(arg, no_ack=True)
            if message is None:
                break
            order.append([message.headers['id'], message.properties.get('priority')])
    print(json.dumps({'order': order}))
else:
    raise SystemExit(f'unknown command {command}')
