#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) dockmirror contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: verify
short_description: Prove with dockmirror that a registry mirror really serves this host
version_added: 0.1.0
description:
  - Runs C(dockmirror mirror verify) on the managed host. It checks that daemon.json lists the mirror, the live daemon uses
    it, the mirror answers its registry API, and optionally that it serves an image and that a real pull goes
    through it.
  - The task fails when any check fails, with each failed check and why in C(msg), so a playbook can gate a
    rollout on it (see the collection's C(rollout) playbook). It never changes anything but, with I(pull), the
    daemon's local images.
author:
  - dockmirror contributors
options:
  mirror:
    description:
      - Mirror URL or preset name. Default is every mirror daemon.json lists.
    type: str
  image:
    description:
      - Also check that the mirror serves this Docker Hub image (C(--image)), for example C(alpine:3.16.2).
    type: str
  pull:
    description:
      - Also pull I(image) through the daemon and compare digests (C(--pull)). Needs I(image).
    type: bool
    default: false
  fresh:
    description:
      - Remove a local copy of the image first, so the pull really goes to the network (C(--fresh)). Needs I(pull).
    type: bool
    default: false
  metrics_url:
    description:
      - The mirror's Prometheus endpoint, read to prove the pull came through it (C(--metrics-url)). Needs I(pull).
    type: str
  timeout:
    description:
      - Seconds each network probe may take (C(--timeout)).
    type: float
    default: 5
  engine:
    description:
      - The container engine to ask (C(--engine)). Passed only when set, so it needs a dockmirror that has the
        flag; an older one fails the task with its usage error.
    type: str
  registry:
    description:
      - The registry the mirror stands in for (C(--registry)). Passed only when set, like I(engine).
    type: str
extends_documentation_fragment:
  - dockmirror.mirrors.common
attributes:
  check_mode:
    support: partial
    details: Verify only reads, so it runs in check mode too; with I(pull) it would change the local images, so it is skipped.
  diff_mode:
    support: none
  platform:
    platforms: posix
'''

EXAMPLES = r'''
- name: Gate on the mirror answering and being live
  dockmirror.mirrors.verify:
    mirror: http://10.0.0.5:5000

- name: Prove that a real pull goes through it
  dockmirror.mirrors.verify:
    mirror: http://10.0.0.5:5000
    image: alpine:3.16.2
    pull: true
    timeout: 10
  become: true
'''

RETURN = r'''
ok:
  description: Whether every check of every mirror passed.
  returned: when dockmirror ran
  type: bool
dockmirror:
  description:
    - dockmirror's full C(--json) report (C(ok), C(configFile), C(endpoint), and per mirror its C(checks) with
      C(name), C(ok), C(summary), C(why), C(fix)). On an error before any check, its error instead.
  returned: when dockmirror ran
  type: dict
failed_checks:
  description: The checks that failed, as C(mirror), C(check), C(summary), C(why) and C(fix).
  returned: failure
  type: list
  elements: dict
cmd:
  description: The command that ran, as an argument list.
  returned: when dockmirror ran
  type: list
  elements: str
rc:
  description: dockmirror's exit code (6 when a check failed).
  returned: failure
  type: int
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.dockmirror.mirrors.plugins.module_utils.dockmirror_cli import (
    COMMON_ARGUMENT_SPEC, DockmirrorCli, common_flags, flag, passthrough_flags)

# dockmirror's exit code for "a check failed" (README's exit code table): the report is the answer.
VERIFY_FAILED = 6
# A pull of an image through the daemon has no --timeout of its own: it gets this long on top.
PULL_SECONDS = 600


def failed_checks(report):
    """Every failed check of every mirror in a report, in the order dockmirror ran them."""
    failed = []
    for result in report.get('results') or []:
        for check in result.get('checks') or []:
            if not check.get('ok'):
                failed.append(dict(mirror=result.get('mirror'), check=check.get('name'), summary=check.get('summary'),
                                   why=check.get('why'), fix=check.get('fix')))
    return failed


def describe(failed):
    """One line per failed check: `<mirror>: <check>: <summary> (<why>)`."""
    lines = []
    for check in failed:
        why = ' (%s)' % check['why'] if check.get('why') else ''
        lines.append('%s: %s: %s%s' % (check['mirror'], check['check'], check['summary'], why))
    return '; '.join(lines)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            COMMON_ARGUMENT_SPEC,
            mirror=dict(type='str'),
            image=dict(type='str'),
            pull=dict(type='bool', default=False),
            fresh=dict(type='bool', default=False),
            metrics_url=dict(type='str'),
            timeout=dict(type='float', default=5),
            engine=dict(type='str'),
            registry=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params['pull'] and params['image'] is None:
        module.fail_json(msg='pull needs image')
    if (params['fresh'] or params['metrics_url'] is not None) and not params['pull']:
        module.fail_json(msg='fresh and metrics_url need pull')
    if module.check_mode and params['pull']:
        module.exit_json(changed=False, skipped=True, msg='not run in check mode: pull changes the local images')
    args = ['mirror', 'verify'] + common_flags(params) + passthrough_flags(params, ['engine', 'registry'])
    if params['image'] is not None:
        args.append(flag('image', params['image']))
    if params['pull']:
        args.append('--pull')
    if params['fresh']:
        args.append('--fresh')
    if params['metrics_url'] is not None:
        args.append(flag('metrics-url', params['metrics_url']))
    deadline = params['deadline']
    if deadline is None:
        deadline = 2 * params['timeout'] + 30 + (PULL_SECONDS if params['pull'] else 0)
    operands = [params['mirror']] if params['mirror'] is not None else []
    rc, report, cmd = DockmirrorCli(module).run_or_fail(args, deadline, operands, ok_codes=(0, VERIFY_FAILED))
    # A pull is a change to the daemon's images, not to its configuration: the task says changed for neither.
    if rc == VERIFY_FAILED or not report.get('ok'):
        failed = failed_checks(report)
        module.fail_json(msg='dockmirror verify failed: %s' % (describe(failed) or 'no mirror passed'), rc=rc,
                         code='VERIFY_FAILED', ok=False, failed_checks=failed, dockmirror=report, cmd=cmd)
    module.exit_json(changed=False, ok=True, dockmirror=report, cmd=cmd)


if __name__ == '__main__':
    main()
