import { hostname as osHostname } from 'node:os';

/**
 * Celery's node-name expansion for `tq worker -n`: %h the host's full name, %n its name part
 * (up to the first dot), %d its domain part (after the first dot), %% a literal percent sign.
 * "worker1@%h" on "box.example.com" → "worker1@box.example.com"; "%n.%d" round-trips.
 */
export function expandHostname(template: string, host = osHostname()): string {
  const dot = host.indexOf('.');
  const name = dot === -1 ? host : host.slice(0, dot);
  const domain = dot === -1 ? '' : host.slice(dot + 1);
  return template.replace(/%([hnd%])/g, (_, key: string) => (key === 'h' ? host : key === 'n' ? name : key === 'd' ? domain : '%'));
}
