import { describe, expect, it } from 'vitest';
import { liveRegistryFromInfo, liveRegistryFromReloadEvent, registryMismatch } from '../../src/daemon/registry-config.js';
import { normalizeInsecureEntry, normalizeMirror } from '../../src/mirror/url.js';
import { parseEndpoint } from '../../src/daemon/engine.js';
import { UsageError } from '../../src/errors.js';

// Shape of a real 20.10 /info RegistryConfig after insecure-registries ["myreg:5000","10.1.2.3/8","http://other:80"].
const info = {
  RegistryConfig: {
    InsecureRegistryCIDRs: ['10.0.0.0/8', '127.0.0.0/8'],
    IndexConfigs: {
      'docker.io': { Name: 'docker.io', Mirrors: ['http://m:5000/'], Secure: true, Official: true },
      'myreg:5000': { Name: 'myreg:5000', Mirrors: [], Secure: false, Official: false },
      'other:80': { Name: 'other:80', Mirrors: [], Secure: false, Official: false },
    },
    Mirrors: ['http://m:5000/'],
  },
};

describe('live registry config', () => {
  it('extracts mirrors and non-default insecure entries', () => {
    expect(liveRegistryFromInfo(info)).toEqual({ mirrors: ['http://m:5000/'], insecureRegistries: ['myreg:5000', 'other:80', '10.0.0.0/8'] });
    expect(liveRegistryFromInfo({})).toEqual({ mirrors: [], insecureRegistries: [] });
  });

  it("reads a reload event's settings, as dockerd 20.10 sends them, and nothing from an event without them", () => {
    // Recorded from dockerd 20.10.24 here (`GET /events` during a SIGHUP), other attributes trimmed.
    const recorded = {
      Type: 'daemon',
      Action: 'reload',
      Actor: {
        ID: 'UOEL:OY7Y:VUGO',
        Attributes: {
          debug: 'false',
          'insecure-registries': '["127.0.0.1:5999","10.0.0.0/8","127.0.0.0/8"]',
          labels: '[]',
          name: 'vm',
          'registry-mirrors': '["http://127.0.0.1:5999","https://m.example/"]',
        },
      },
    };
    expect(liveRegistryFromReloadEvent(recorded)).toEqual({
      mirrors: ['http://127.0.0.1:5999/', 'https://m.example/'],
      insecureRegistries: ['127.0.0.1:5999', '10.0.0.0/8'],
    });
    const attributes = (extra: Record<string, unknown>) => ({ Actor: { Attributes: { 'registry-mirrors': '[]', 'insecure-registries': '[]', ...extra } } });
    expect(liveRegistryFromReloadEvent(attributes({}))).toEqual({ mirrors: [], insecureRegistries: [] });
    // Each list must be there, as a JSON array of strings: anything else is for GET /info to settle.
    for (const odd of [{ 'registry-mirrors': undefined }, { 'insecure-registries': undefined }, { 'registry-mirrors': '["a",1]' }, { 'registry-mirrors': '{"a":1}' },
      { 'insecure-registries': 'not json' }, { 'registry-mirrors': ['http://a'] }]) {
      expect(liveRegistryFromReloadEvent(attributes(odd))).toBeUndefined();
    }
    expect(liveRegistryFromReloadEvent({ Type: 'daemon', Action: 'reload', Actor: { ID: 'x' } })).toBeUndefined();
    expect(liveRegistryFromReloadEvent(null)).toBeUndefined();
  });

  it('normalises mirrors and insecure entries', () => {
    expect(normalizeMirror('HTTPS://Mirror.Example:5000/')).toBe('https://mirror.example:5000');
    expect(normalizeMirror('https://m.example/Path/')).toBe('https://m.example/Path');
    expect(normalizeInsecureEntry('http://Reg:5000')).toBe('reg:5000');
    expect(normalizeInsecureEntry('10.1.2.3/8')).toBe('10.0.0.0/8');
    expect(normalizeInsecureEntry('192.168.1.77/24')).toBe('192.168.1.0/24');
  });

  it('matches in order, case-insensitively, ignoring trailing slashes and duplicates', () => {
    const live = { mirrors: ['HTTP://A:1/', 'http://a:1/', 'https://b/'], insecureRegistries: ['myreg:5000', '10.0.0.0/8'] };
    expect(registryMismatch(live, { mirrors: ['http://a:1', 'https://b'], insecureRegistries: ['http://myreg:5000', '10.9.9.9/8'] })).toBeUndefined();
    expect(registryMismatch(live, { mirrors: ['https://b', 'http://a:1'] })).toMatch(/^mirrors:/);
    expect(registryMismatch(live, { insecureRegistries: ['myreg:5000'] })).toBe('insecure-registries: daemon is unexpected [10.0.0.0/8]');
    expect(registryMismatch(live, { insecureRegistries: ['x:1', 'myreg:5000', '10.0.0.0/8', '127.0.0.0/8'] })).toBe(
      'insecure-registries: daemon is missing [x:1]',
    );
    // A field left out is not checked (the key is absent from the file and the change was a reload).
    expect(registryMismatch(live, {})).toBeUndefined();
  });
});

describe('parseEndpoint', () => {
  it('maps unix, npipe and tcp endpoints, with the docker CLI defaults', () => {
    expect(parseEndpoint('unix:///tmp/d.sock')).toEqual({ socketPath: '/tmp/d.sock' });
    expect(parseEndpoint('unix://')).toEqual({ socketPath: '/var/run/docker.sock' });
    expect(parseEndpoint('npipe:////./pipe/docker_engine')).toEqual({ socketPath: '\\\\.\\pipe\\docker_engine' });
    expect(parseEndpoint('tcp://127.0.0.1:2375')).toEqual({ host: '127.0.0.1', port: 2375 });
    expect(parseEndpoint('tcp://docker.test')).toEqual({ host: 'docker.test', port: 2375 });
    expect(parseEndpoint('http://[::1]:2376/')).toEqual({ host: '::1', port: 2376 });
  });

  it.each(['tcp://', 'tcp://:2375', 'tcp://h:abc', 'tcp://h:0', 'tcp://h:70000', 'tcp://h:1/path', 'ssh://u@h', 'https://h:2376', 'fd://', 'nonsense'])(
    'refuses %s as a usage error with a hint',
    (endpoint) => {
      expect(() => parseEndpoint(endpoint)).toThrow(UsageError);
      expect(() => parseEndpoint(endpoint)).toThrow(expect.objectContaining({ hint: expect.stringMatching(/\S/), details: { endpoint } }));
    },
  );
});
