import { Args, Flags } from '@oclif/core';
import { verifyMirror, type VerifyReport } from '@dockmirror/core';
import { BaseCommand } from '../../base.js';
import { EXIT_CODES } from '../../exit-codes.js';
import { configFlags, configOptions, presetFlags, presetOptions, secondsFlag } from '../../flags.js';
import { describeVerify } from '../../verify-output.js';

/** `dockmirror mirror verify [mirror]` (also `dockmirror verify`). */
export default class MirrorVerify extends BaseCommand {
  static override aliases = ['verify'];
  static override summary = 'Prove a mirror works: configured, live in the daemon, answering, serving the image, pulled through.';
  static override description =
    'With no mirror, verifies every mirror in daemon.json (with --engine: every mirror of the registry in that engine\'s files). Checks run concurrently and each network probe has a timeout. With --engine containerd or podman, --pull is a real pull with the engine\'s own resolver (ctr --hosts-dir; podman pull by the plain name), and what it added is removed again. Exits 0 when every check passes, 6 when any fails.';
  static override examples = [
    '<%= config.bin %> mirror verify',
    '<%= config.bin %> mirror verify pyrsia --image alpine:3.16.2 --pull',
    '<%= config.bin %> mirror verify http://127.0.0.1:5000 --timeout 2 --json',
    '<%= config.bin %> mirror verify local --image alpine:3.16.2 --pull --metrics-url http://127.0.0.1:5001/metrics',
    '<%= config.bin %> mirror verify --engine containerd --pull --image docker.io/library/alpine:3.16.2',
    '<%= config.bin %> mirror verify --engine podman --registry ghcr.io --pull --image ghcr.io/someorg/tool:1',
  ];
  static override args = {
    mirror: Args.string({ description: 'Mirror URL or preset name; default: every mirror in daemon.json.' }),
  };
  static override flags = {
    ...configFlags,
    ...presetFlags,
    'docker-host': Flags.string({ summary: 'Docker Engine endpoint to ask for the live settings and to pull with.', helpValue: '<url>' }),
    // No default: without --engine and --registry, verify is Docker's as it always was.
    engine: Flags.option({
      options: ['docker', 'containerd', 'podman', 'all'] as const,
      summary: 'Verify the mirrors of this engine (all: every engine found here), from its own files and with its own pull.',
    })(),
    registry: Flags.string({ summary: 'The upstream registry whose mirrors to verify, as in image names (default: docker.io).', helpValue: '<host[:port]>' }),
    image: Flags.string({ summary: 'Check that the mirror serves this image, e.g. alpine:3.16.2 (with --registry: an image of that registry).', helpValue: '<ref>' }),
    pull: Flags.boolean({ summary: 'Also pull the image with the engine and compare digests (needs --image; with --engine on docker.io the default is alpine:latest).' }),
    fresh: Flags.boolean({ summary: 'Remove a local copy of the image first, so the pull really goes to the network.', dependsOn: ['pull'] }),
    'metrics-url': Flags.string({
      summary: "The mirror's Prometheus endpoint (registry http.debug.addr), read to prove the pull came through it.",
      helpValue: '<url>',
      dependsOn: ['pull'],
    }),
    'access-log': Flags.string({ summary: "The mirror's access log file, read to prove the pull came through it.", helpValue: '<file>', dependsOn: ['pull'] }),
    // Not the shared --timeout (60 s for the daemon to come back): this one bounds each network probe.
    timeout: secondsFlag({ summary: 'Seconds each network probe may take.', default: 5 }),
  };

  async run(): Promise<VerifyReport> {
    const { args, flags } = await this.parse(MirrorVerify);
    const report = await verifyMirror({
      ...configOptions(flags),
      ...presetOptions(flags),
      ...(args.mirror === undefined ? {} : { mirror: args.mirror }),
      ...(flags.engine === undefined ? {} : { engine: flags.engine }),
      ...(flags.registry === undefined ? {} : { registry: flags.registry }),
      ...(flags['docker-host'] ? { dockerHost: flags['docker-host'] } : {}),
      ...(flags.image === undefined ? {} : { image: flags.image }),
      pull: flags.pull,
      fresh: flags.fresh,
      ...(flags['metrics-url'] === undefined ? {} : { metricsUrl: flags['metrics-url'] }),
      ...(flags['access-log'] === undefined ? {} : { accessLog: flags['access-log'] }),
      // Never 0 ms, which some timers read as no timeout at all.
      timeoutMs: Math.max(1, Math.round(flags.timeout * 1000)),
    });
    for (const line of describeVerify(report)) this.say(line);
    // The report is the answer either way (printed as JSON by oclif with --json); failure is only the exit code.
    if (!report.ok) process.exitCode = EXIT_CODES.VERIFY_FAILED;
    return report;
  }
}
