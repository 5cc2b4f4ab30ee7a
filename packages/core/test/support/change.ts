// A change request for the Docker engine alone, for tests that drive the change pipeline with their own plan.
import type { ChangeRequest } from '../../src/change/pipeline.js';
import { dockerTarget } from '../../src/engines/docker/adapter.js';
import type { MutationOptions } from '../../src/operations/options.js';

/** The request `add` would make for daemon.json with these options, under the operation name `op`. */
export async function dockerRequest(options: MutationOptions, op = 'mirror add'): Promise<ChangeRequest> {
  const target = await dockerTarget(options);
  return { op, args: {}, options, targets: [target], registry: 'docker.io', stateDir: target.stateDir };
}
