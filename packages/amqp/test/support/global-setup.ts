import { execFileSync } from 'node:child_process';

/**
 * Creates the "tq_test" vhost on the local RabbitMQ (idempotent) unless TQ_TEST_AMQP_URL
 * points elsewhere. The tests never delete it: other runs may share it.
 */
export default function setup(): void {
  if (process.env.TQ_TEST_AMQP_URL) return;
  try {
    execFileSync('rabbitmqctl', ['add_vhost', 'tq_test'], { stdio: 'ignore' });
  } catch {
    // Exists already, or rabbitmqctl is not here: the tests will say if the vhost is missing.
  }
  try {
    execFileSync('rabbitmqctl', ['set_permissions', '-p', 'tq_test', 'guest', '.*', '.*', '.*'], { stdio: 'ignore' });
  } catch {
    // Same as above.
  }
}
