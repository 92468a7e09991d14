import { describe, expect, it } from 'vitest';
import { expandHostname } from '../src/cli/hostname.js';

describe('tq worker -n expansion (Celery %h/%n/%d)', () => {
  it('expands host, name and domain parts', () => {
    expect(expandHostname('worker1@%h', 'box.example.com')).toBe('worker1@box.example.com');
    expect(expandHostname('%n', 'box.example.com')).toBe('box');
    expect(expandHostname('w@%d', 'box.example.com')).toBe('w@example.com');
    expect(expandHostname('%n.%d', 'box.example.com')).toBe('box.example.com');
  });

  it('a host without a domain, a literal %, and text left alone', () => {
    expect(expandHostname('a@%n-%d', 'box')).toBe('a@box-');
    expect(expandHostname('100%%@%h', 'box')).toBe('100%@box');
    expect(expandHostname('plain', 'box')).toBe('plain');
  });
});
