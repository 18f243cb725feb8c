"""Drop repeated inline ``<script>`` blocks from every page.

``sphinx-thebe`` (loaded by Jupyter Book 1.x) and ``sphinx-togglebutton`` add their inline config
scripts when the environment starts reading; under Sphinx 7.4 those inline scripts reach each
page twice (registered once with the file name ``None`` and once with ``""``, so Sphinx's own
de-duplication does not see that they are the same). The second copy of thebe's
``const THEBE_JS_URL = ...`` then fails with "SyntaxError: Identifier 'THEBE_JS_URL' has already
been declared" in the browser console. Keeping the first copy of each script fixes that.
"""

from __future__ import annotations


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


def setup(app):
    app.connect("html-page-context", dedupe_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
