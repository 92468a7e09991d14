import { execFileSync } from 'node:child_process';
import { connect } from 'amqplib';
import { amqpUrl } from './env.js';

/**
 * Makes sure the "tq_test" vhost exists on the local RabbitMQ (unless TQ_TEST_AMQP_URL points
 * elsewhere): a connection attempt first, rabbitmqctl only when it fails. The tests never
 * delete the vhost: other runs may share it.
 */
export default async function setup(): Promise<void> {
  if (process.env.TQ_TEST_AMQP_URL) return;
  try {
    await (await connect(amqpUrl)).close();
    return;
  } catch {
    // Missing vhost, most likely; create it below.
  }
  for (const args of [['add_vhost', 'tq_test'], ['set_permissions', '-p', 'tq_test', 'guest', '.*', '.*', '.*']]) {
    try {
      execFileSync('rabbitmqctl', args, { stdio: 'ignore' });
    } catch {
      // Exists already, or rabbitmqctl is not here: the tests will say if the vhost is missing.
    }
  }
}
