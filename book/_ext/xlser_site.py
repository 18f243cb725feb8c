"""Two fixes to the HTML that Sphinx writes for this book.

1. Each inline ``<script>`` once per page. ``sphinx-thebe`` (loaded by Jupyter Book 1.x) and
   ``sphinx-togglebutton`` add their inline config scripts when the environment starts reading;
   under Sphinx 7.4 those scripts reach each page twice (registered once with the file name
   ``None`` and once with ``""``, so Sphinx's own de-duplication does not see that they are the
   same). The second copy of thebe's ``const THEBE_JS_URL = ...`` then fails with
   "SyntaxError: Identifier 'THEBE_JS_URL' has already been declared" in the browser console.
2. Source pages (``_modules/``, from ``sphinx.ext.viewcode``) rewritten when the configuration
   changed. Sphinx rewrites a module's page only when the module is newer than the page, so after
   a change of ``_config.yml`` (theme options, favicon, scripts) the source pages kept the old
   configuration until their module was edited.
"""

from __future__ import annotations

import sphinx.ext.viewcode as viewcode
from sphinx.environment import CONFIG_OK

_module_page_is_stale = viewcode.should_generate_module_page


def dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    kept, seen = [], set()
    for script in scripts:
        # an inline script is registered once with filename None and once with "": same script
        attrs = getattr(script, "attributes", {})
        key = (getattr(script, "filename", script) or "", tuple(sorted(attrs.items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def note_config_status(app, env, docnames):
    """Remember whether the configuration changed (Sphinx resets the flag after reading)."""
    app.xlser_config_changed = env.config_status != CONFIG_OK


def should_generate_module_page(app, modname: str) -> bool:
    """Sphinx's rule (module newer than its page), or any change of the configuration."""
    if getattr(app, "xlser_config_changed", False):
        return True
    return _module_page_is_stale(app, modname)


def setup(app):
    app.connect("html-page-context", dedupe_scripts)
    app.connect("env-before-read-docs", note_config_status)
    viewcode.should_generate_module_page = should_generate_module_page
    return {"parallel_read_safe": True, "parallel_write_safe": True}
