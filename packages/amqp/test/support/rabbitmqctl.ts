import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Closes, from the server side, the connection whose client gave `connectionName`
 * (a connection.close from RabbitMQ: reply code 320 CONNECTION_FORCED).
 */
export async function closeConnectionByName(connectionName: string): Promise<void> {
  // The JSON formatter prints pids as #PID<…>, which close_connection does not parse; the
  // default formatter prints "<rabbit@host.N.N.N>\t[{connection_name,…},…]".
  const { stdout } = await run('rabbitmqctl', ['list_connections', '-q', 'pid', 'client_properties']);
  const line = stdout.split('\n').find((l) => l.includes(`"${connectionName}"`) || l.includes(`<<"${connectionName}">>`));
  const pid = line?.split('\t')[0]?.trim();
  if (!pid) throw new Error(`no RabbitMQ connection named "${connectionName}"`);
  await run('rabbitmqctl', ['close_connection', pid, 'closed by a tq test']);
}

export async function rabbitmqctl(...args: string[]): Promise<string> {
  return (await run('rabbitmqctl', args)).stdout;
}
