import { describe, expect, it } from 'vitest';
import { countManifestRequests } from '../../src/verify/access-log.js';
import { parseImageRef } from '../../src/verify/image-ref.js';
import { countImageRequests } from '../../src/verify/mirror-counters.js';
import { attributePlainPull, type AttributionInputs } from '../../src/verify/pull-source.js';

// Shape of a real distribution 2.8 /metrics answer (debug address, prometheus enabled), trimmed.
const METRICS = `# HELP registry_http_requests_total Total number of HTTP requests made.
# TYPE registry_http_requests_total counter
registry_http_in_flight_requests{handler="manifest"} 0
registry_http_requests_total{code="200",handler="base",method="get"} 7
registry_http_requests_total{code="200",handler="manifest",method="get"} 3
registry_http_requests_total{code="200",handler="manifest",method="head"} 2
registry_http_requests_total{code="404",handler="manifest",method="get"} 5
registry_http_requests_total{code="307",handler="blob",method="get"} 4
registry_http_requests_total{code="201",handler="blob_upload",method="put"} 9
registry_http_requests_total{code="202",handler="manifest",method="put"} 1
`;

describe('countImageRequests', () => {
  it('counts manifest and blob reads that succeeded, and nothing else', () => {
    expect(countImageRequests(METRICS)).toEqual({ count: 9 });
  });
  it('reads zero for a registry that has served no image yet, but refuses an answer with no registry metrics', () => {
    expect(countImageRequests('registry_http_in_flight_requests{handler="blob"} 0\n')).toEqual({ count: 0 });
    expect(countImageRequests('go_goroutines 12\n')).toMatchObject({ error: expect.stringMatching(/no registry_ metrics/) });
    expect(countImageRequests('')).toHaveProperty('error');
  });
  it('ignores values that are not numbers and codes that are not 2xx or 3xx', () => {
    expect(countImageRequests('registry_http_requests_total{code="200",handler="blob",method="GET"} NaN\nregistry_http_requests_total{code="500",handler="blob",method="get"} 4\nregistry_http_requests_total{code="200",handler="blob",method="GET"} 1.5e1\n')).toEqual({ count: 15 });
  });
});

describe('countManifestRequests', () => {
  it('counts 2xx manifest reads of exactly this image, in distribution\'s and Pyrsia\'s log formats', () => {
    const log = [
      '127.0.0.1 - - [01/Dec/2026:09:16:43 +0000] "GET /v2/library/alpine/manifests/3.16.2 HTTP/1.1" 200 528 "" "docker/20.10.24"',
      'INFO pyrsia_registry > 127.0.0.1:57054 "GET /v2/library/alpine/manifests/3.16.2 HTTP/1.1" 200 "-" "docker/20.10.24" 3ms',
      '127.0.0.1 - - [x] "HEAD /v2/library/alpine/manifests/3.16.2 HTTP/1.1" 200 0 "" "docker/20.10.24"',
      '127.0.0.1 - - [x] "GET /v2/library/alpine/manifests/3.16.2 HTTP/1.1" 404 91 "" "docker/20.10.24"',
      '127.0.0.1 - - [x] "GET /v2/library/alpine/manifests/3.16.20 HTTP/1.1" 200 1 "" "x"',
      '127.0.0.1 - - [x] "GET /v2/library/alpinex/manifests/3.16.2 HTTP/1.1" 200 1 "" "x"',
      '127.0.0.1 - - [x] "GET /v2/library/alpine/blobs/sha256:aa HTTP/1.1" 200 1 "" "x"',
      '127.0.0.1 - - [x] "PUT /v2/library/alpine/manifests/3.16.2 HTTP/1.1" 201 0 "" "x"',
    ].join('\n');
    expect(countManifestRequests(log, parseImageRef('alpine:3.16.2'))).toBe(3);
    expect(countManifestRequests('"GET /v2/library/alpine/manifests/3a16b2 HTTP/1.1" 200', parseImageRef('alpine:3.16.2'))).toBe(0);
  });
});

const A = 'http://a:5000';
const B = 'http://b:5000';
const base: AttributionInputs = { mirror: B, livePosition: 1, earlier: [{ mirror: A, serves: true }], evidence: { source: 'none', why: 'no counters' } };

describe('attributePlainPull', () => {
  it('believes the mirror\'s counter over the order, both ways', () => {
    expect(attributePlainPull({ ...base, evidence: { source: 'metrics', url: 'm', before: 4, after: 6 } }))
      .toEqual({ byThisMirror: true, servedBy: B, basis: 'evidence', how: "the mirror's image request counter (m) rose from 4 to 6 during the pull" });
    expect(attributePlainPull({ ...base, livePosition: 0, earlier: [], evidence: { source: 'metrics', url: 'm', before: 4, after: 4 } }))
      .toEqual({ byThisMirror: false, servedBy: undefined, basis: 'evidence', how: "the mirror's image request counter (m) stayed at 4 during the pull" });
    expect(attributePlainPull({ ...base, evidence: { source: 'metrics', url: 'm', before: 4, after: 4 } })).toMatchObject({ byThisMirror: false, servedBy: A });
  });
  it('believes the mirror\'s access log over the order, both ways', () => {
    expect(attributePlainPull({ ...base, evidence: { source: 'access-log', url: '/l', before: 1, after: 2 } }))
      .toEqual({ byThisMirror: true, servedBy: B, basis: 'evidence', how: "the mirror's access log (/l) recorded 1 manifest request for the image during the pull" });
    expect(attributePlainPull({ ...base, evidence: { source: 'access-log', url: '/l', before: 1, after: 3 } }).how).toContain('recorded 2 manifest requests');
    expect(attributePlainPull({ ...base, livePosition: 0, earlier: [], evidence: { source: 'access-log', url: '/l', before: 2, after: 2 } }))
      .toEqual({ byThisMirror: false, servedBy: undefined, basis: 'evidence', how: "the mirror's access log (/l) recorded no manifest request for the image during the pull" });
  });
  it('without counters, names the earlier mirror that serves the image', () => {
    expect(attributePlainPull(base)).toEqual({ byThisMirror: false, servedBy: A, basis: 'inferred',
      how: `dockerd asks its mirrors in order, and ${A} (position 1, before this one) serves the image` });
    const later = attributePlainPull({ ...base, livePosition: 2, earlier: [{ mirror: 'http://x', serves: false }, { mirror: A, serves: true }] });
    expect(later.how).toContain('(position 2, before this one)');
  });
  it('without counters, passes a mirror when no earlier one serves the image, and says it was inferred', () => {
    expect(attributePlainPull({ ...base, livePosition: 0, earlier: [] }))
      .toEqual({ byThisMirror: true, servedBy: B, basis: 'inferred', how: "inferred from dockerd's mirror order: it is first in the daemon's list; no counters" });
    expect(attributePlainPull({ ...base, earlier: [{ mirror: A, serves: false }] }).how).toBe("inferred from dockerd's mirror order: the 1 live mirror before it did not serve the image; no counters");
    expect(attributePlainPull({ ...base, livePosition: 2, earlier: [{ mirror: A, serves: false }, { mirror: 'http://c', serves: false }] }).how).toContain('the 2 live mirrors before it');
  });
  it('never credits a mirror that is not live, or when the live list is unknown', () => {
    expect(attributePlainPull({ ...base, livePosition: -1 })).toEqual({ byThisMirror: false, servedBy: A, basis: 'inferred', how: 'the running daemon does not use this mirror, so the plain name cannot come through it' });
    expect(attributePlainPull({ ...base, livePosition: undefined, earlier: [] })).toEqual({ byThisMirror: false, servedBy: undefined, basis: 'inferred', how: "the daemon's live mirror list was not read, and no counters" });
  });
});
