# Copyright: ocistack.engine contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The file options of config_files, shared with service_config (one declaration, one set of docs)."""

from __future__ import annotations

__all__ = ["ModuleDocFragment"]


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  directories:
    description:
      - Directories that must exist, in any order. Missing parent directories are made too, with mode
        V("0755"), as C(mkdir -p) does.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path.
        type: str
        required: true
      mode:
        description: Octal mode, quoted (V("0755")).
        type: raw
        default: "0755"
      purge:
        description:
          - What to remove from the directory that is not declared in O(directories) or O(files).
          - V(none) keeps everything; V(all) removes every undeclared entry (files and directories);
            V(marked) removes only undeclared subdirectories that hold a file named O(directories[].marker),
            so directories other tools or people made are kept.
        type: str
        choices: [none, all, marked]
        default: none
      marker:
        description: File name that marks a subdirectory as managed, for O(directories[].purge=marked).
        type: str
        default: .ocistack-managed
      owner:
        description: User name or numeric id that must own the directory. Left as it is when not given.
        type: str
      group:
        description: Group name or numeric id of the directory. Left as it is when not given.
        type: str
  files:
    description:
      - Files that must exist with this content and mode. Their directory must exist or be declared in
        O(directories). In check mode a missing directory is not an error, since an earlier task of the
        run may only have reported that it would make it.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path.
        type: str
        required: true
      content:
        description:
          - The file's text. Shown in diffs. Give this or O(files[].secret_content).
        type: str
      secret_content:
        description:
          - The file's text when it is a secret (private keys, credentials). It is never logged nor shown
            in diffs, which show its size instead.
        type: str
      mode:
        description: Octal mode, quoted (V("0644")).
        type: raw
        default: "0644"
      validate:
        description:
          - A command that must accept the new content before it replaces the file, with V(%s) as a
            separate argument where the candidate's path goes (V(containerd --config %s config dump)).
            A string is split like a shell would, but no shell runs it; give a list to avoid quoting.
          - Every candidate of the task is written beside its target and validated before any file is
            replaced, so a rejected one leaves all the task's files as they were.
          - Not run in check mode.
        type: raw
      backup:
        description:
          - Keep the previous content of a file that is rewritten, as C(<path>.<pid>.<date>@<time>~).
            The backups made are returned in RV(backups); a directory purge keeps them.
          - A backup has the mode and times of the file it was made from, at most C(0600) when the file is given
            as O(files[].secret_content), and is never readable by others while it is written.
        type: bool
        default: false
      owner:
        description: User name or numeric id that must own the file. Left as it is when not given.
        type: str
      group:
        description: Group name or numeric id of the file. Left as it is when not given.
        type: str
  permissions:
    description:
      - Paths whose content another tool writes (a key made by C(openssl), for example). Only their mode,
        owner and group are set, and only when the path exists; a missing path is left to the task that
        makes it. A directory purge never removes them.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path. A symbolic link is refused; give the path it points to.
        type: str
        required: true
      mode:
        description: Octal mode, quoted (V("0600")). Left as it is when not given.
        type: raw
      owner:
        description: User name or numeric id that must own the path. Left as it is when not given.
        type: str
      group:
        description: Group name or numeric id of the path. Left as it is when not given.
        type: str
  absent:
    description:
      - Paths to remove when they exist (files, or directories with what they hold).
    type: list
    elements: str
    default: []
"""
