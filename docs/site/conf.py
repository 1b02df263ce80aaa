# Sphinx configuration of the docs site (`make docs`, scripts/docs.sh).
# The build runs offline and with -W: nothing here may fetch anything (no intersphinx).
from __future__ import annotations

import re

from docutils import nodes

project = "ocistack.engine"
copyright = "ocistack.engine maintainers"
title = "ocistack.engine documentation"
html_short_title = "ocistack.engine"

extensions = ["sphinx_antsibull_ext", "myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
myst_heading_anchors = 3

pygments_style = "ansible"
highlight_language = "YAML+Jinja"

html_theme = "sphinx_ansible_theme"
html_show_sphinx = False
display_version = False
html_use_smartypants = True
html_use_modindex = False
html_use_index = False
html_copy_source = False
# No top bar: the theme's default one links Ansible's own blog, forum and docs.
html_theme_options = {"collapse_navigation": False, "topbar_links": {}}

default_role = "any"
nitpicky = True


# antsibull-docs' pages refer to a few labels of the Ansible docs (common return values, the
# configuration settings, ansible.builtin modules). Without intersphinx (offline) they would be
# unresolved: link them to docs.ansible.com here. Labels of this collection are not touched, so a
# reference to a page of ours that does not exist still fails the build.
ANSIBLE_DOCS = "https://docs.ansible.com/projects/ansible/devel/"
ANSIBLE_LABELS = {
    "common_return_values": "reference_appendices/common_return_values.html",
    "ansible_configuration_settings": "reference_appendices/config.html",
    "callback_plugins": "plugins/callback.html",
}
OTHER_COLLECTION_PAGE = re.compile(r"^ansible_collections\.(?!ocistack\.engine\.)(\w+)\.(\w+)\.(\w+_[a-z]+)$")


def _ansible_docs_link(app, env, node, contnode):
    if node.get("refdomain") != "std" or node.get("reftype") != "ref":
        return None
    target = node.get("reftarget", "")
    path = ANSIBLE_LABELS.get(target)
    m = OTHER_COLLECTION_PAGE.match(target)
    if m:
        path = "collections/{}/{}/{}.html".format(*m.groups())
    if path is None:
        return None
    ref = nodes.reference("", "", internal=False, refuri=ANSIBLE_DOCS + path)
    ref.append(contnode)
    return ref


def setup(app):
    app.connect("missing-reference", _ansible_docs_link)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
