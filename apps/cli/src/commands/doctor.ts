import { Flags } from '@oclif/core';
import { runDoctor, type DoctorReport } from '@dockmirror/core';
import { BaseCommand } from '../base.js';
import { EXIT_CODES } from '../exit-codes.js';
import { configFlags, configOptions } from '../flags.js';
import { mark, paint } from '../output.js';
import { describeStatus } from '../status-output.js';
import { describeVerify } from '../verify-output.js';

/** `dockmirror doctor`. */
export default class Doctor extends BaseCommand {
  static override summary = 'Check the whole setup: status, then verify every configured mirror, and say what to fix.';
  static override description = 'Reads only. Exits 0 when nothing needs fixing, 6 otherwise.';
  static override examples = ['<%= config.bin %> doctor', '<%= config.bin %> doctor --image alpine:3.16.2 --json'];
  static override flags = {
    ...configFlags,
    'docker-host': Flags.string({ summary: 'Docker Engine endpoint.', helpValue: '<url>' }),
    image: Flags.string({ summary: 'Also check every mirror serves this Docker Hub image.', helpValue: '<ref>' }),
  };

  async run(): Promise<DoctorReport> {
    const { flags } = await this.parse(Doctor);
    const report = await runDoctor({
      ...configOptions(flags),
      ...(flags['docker-host'] ? { dockerHost: flags['docker-host'] } : {}),
      ...(flags.image ? { image: flags.image } : {}),
    });
    for (const line of describeStatus(report.status)) this.say(line);
    if (report.verify) for (const line of ['', ...describeVerify(report.verify)]) this.say(line);
    this.say('');
    if (report.ok) this.say(`${mark(true)} nothing to fix`);
    for (const finding of report.findings) {
      this.say(`${mark(false)} ${finding.problem}`);
      this.say(`  ${paint('dim', 'fix:')} ${finding.fix}`);
    }
    if (!report.ok) process.exitCode = EXIT_CODES.VERIFY_FAILED;
    return report;
  }
}
