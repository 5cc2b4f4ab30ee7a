#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) dockmirror contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: rollback
short_description: Put daemon.json back byte for byte with dockmirror rollback
version_added: 0.1.0
description:
  - Runs C(dockmirror rollback) on the managed host. daemon.json gets back the exact bytes it had before a
    dockmirror change (the latest, or the one I(id) names), and the running daemon is told, as for any change.
  - dockmirror refuses (exit 7, the task fails with its message) when the file changed since dockmirror wrote
    it, unless I(force).
  - A rollback is itself a change, so running it twice undoes it. Run it only where this play made the change,
    for example in a C(rescue) after M(dockmirror.mirrors.mirror) reported C(changed), with I(id) set to that
    task's C(backup).
author:
  - dockmirror contributors
options:
  id:
    description:
      - Backup id, as M(dockmirror.mirrors.mirror) returns it in C(backup) or C(dockmirror backups) lists it.
        Default is the latest change.
    type: str
  force:
    description:
      - Restore even if daemon.json changed since dockmirror last wrote it (C(--force)).
    type: bool
    default: false
  engine:
    description:
      - The engine whose last change to undo (C(--engine)); C(all) undoes a change made with I(engine=all).
        Passed only when set.
    type: str
    choices: [docker, containerd, podman, all]
extends_documentation_fragment:
  - dockmirror.mirrors.common
  - dockmirror.mirrors.common.change
'''

EXAMPLES = r'''
- name: Add the mirror, prove it, and undo exactly that change when the proof fails
  block:
    - name: Add the mirror
      dockmirror.mirrors.mirror:
        mirror: http://10.0.0.5:5000
      register: added
    - name: Verify it
      dockmirror.mirrors.verify:
        mirror: http://10.0.0.5:5000
  rescue:
    - name: Roll back this host
      dockmirror.mirrors.rollback:
        id: "{{ added.backup }}"
      when: added is changed
'''

RETURN = r'''
dockmirror:
  description: dockmirror's full C(--json) result, as for M(dockmirror.mirrors.mirror), or its error.
  returned: when dockmirror ran
  type: dict
config_file:
  description: The daemon.json dockmirror restored.
  returned: success
  type: str
mirrors:
  description: The mirrors daemon.json lists after the rollback.
  returned: success
  type: list
  elements: str
backup:
  description: Id of the backup taken before the rollback (a rollback can be rolled back).
  returned: success
  type: str
cmd:
  description: The command that ran, as an argument list.
  returned: when dockmirror ran
  type: list
  elements: str
code:
  description: dockmirror's error code (for example C(DRIFT)).
  returned: failure
  type: str
hint:
  description: What to do next, as dockmirror says it.
  returned: failure, when dockmirror gives one
  type: str
rc:
  description: dockmirror's exit code.
  returned: failure
  type: int
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.dockmirror.mirrors.plugins.module_utils.dockmirror_cli import (
    CHANGE_ARGUMENT_SPEC, DockmirrorCli, passthrough_flags, run_change)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            CHANGE_ARGUMENT_SPEC,
            id=dict(type='str'),
            force=dict(type='bool', default=False),
            engine=dict(type='str', choices=['docker', 'containerd', 'podman', 'all']),
        ),
        supports_check_mode=True,
    )
    args = ['rollback'] + (['--force'] if module.params['force'] else []) + passthrough_flags(module.params, ['engine'])
    operands = [module.params['id']] if module.params['id'] else []
    run_change(module, DockmirrorCli(module), args, operands)


if __name__ == '__main__':
    main()
