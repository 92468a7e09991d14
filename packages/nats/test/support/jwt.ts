import { createHash } from 'node:crypto';
import { nkeys } from '@nats-io/transport-node';

type KeyPair = ReturnType<typeof nkeys.createUser>;

const b64url = (data: string | Uint8Array) => Buffer.from(data).toString('base64url');

// RFC 4648 base32 without padding, as the NATS JWT library writes a claim's jti.
function base32(bytes: Uint8Array): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

/** A NATS JWT (ed25519-nkey) for `subject`, signed by `issuer`, with `nats` claims. */
export function natsJwt(issuer: KeyPair, subject: string, name: string, nats: Record<string, unknown>): string {
  const claims: Record<string, unknown> = { iat: Math.floor(Date.now() / 1000), iss: issuer.getPublicKey(), name, sub: subject, nats: { ...nats, version: 2 } };
  claims['jti'] = base32(createHash('sha256').update(JSON.stringify(claims)).digest());
  const signingInput = `${b64url(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' }))}.${b64url(JSON.stringify(claims))}`;
  return `${signingInput}.${b64url(issuer.sign(new TextEncoder().encode(signingInput)))}`;
}

export interface OperatorSetup {
  /** nats-server config lines for operator mode with an in-memory resolver. */
  readonly serverConfig: string;
  /** A .creds file's text for a user of the JetStream-enabled account. */
  readonly creds: string;
  /** A .creds file for a user signed by a key the server does not trust. */
  readonly untrustedCreds: string;
}

function credsFile(jwt: string, seed: string): string {
  return `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`;
}

/** An operator, a system account, a JetStream-enabled account and a user of it, as nsc would make them. */
export function operatorSetup(): OperatorSetup {
  const operator = nkeys.createOperator();
  const system = nkeys.createAccount();
  const account = nkeys.createAccount();
  const user = nkeys.createUser();
  const unlimited = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };
  const operatorJwt = natsJwt(operator, operator.getPublicKey(), 'tq-operator', { type: 'operator', system_account: system.getPublicKey() });
  const systemJwt = natsJwt(operator, system.getPublicKey(), 'SYS', { type: 'account', limits: unlimited });
  const accountJwt = natsJwt(operator, account.getPublicKey(), 'tq', {
    type: 'account',
    limits: { ...unlimited, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 },
  });
  const userClaims = { type: 'user', pub: {}, sub: {}, subs: -1, data: -1, payload: -1 };
  const userJwt = natsJwt(account, user.getPublicKey(), 'tq-user', userClaims);
  const stranger = nkeys.createAccount();
  const strangerUser = nkeys.createUser();
  const untrustedJwt = natsJwt(stranger, strangerUser.getPublicKey(), 'stranger', userClaims);
  const seed = (kp: KeyPair) => new TextDecoder().decode(kp.getSeed());
  return {
    serverConfig: [
      `operator: ${operatorJwt}`,
      `system_account: ${system.getPublicKey()}`,
      'resolver: MEMORY',
      `resolver_preload: { ${system.getPublicKey()}: ${systemJwt}, ${account.getPublicKey()}: ${accountJwt} }`,
    ].join('\n'),
    creds: credsFile(userJwt, seed(user)),
    untrustedCreds: credsFile(untrustedJwt, seed(strangerUser)),
  };
}
