"""The dashboard at /ui: server-rendered pages (Jinja2) with htmx and a little JavaScript,
every asset shipped in the package (no CDN, works offline).

A page is a shell that holds no data (public: it is only the page's frame, the login form and
the scripts) and a fragment under /ui/part/ that the shell loads with htmx, behind the same
bearer token as the API. With a token set, the login form keeps the token in the page's
sessionStorage and the script sends it as ``Authorization: Bearer`` on every request (and on
the live event streams, read with fetch), so it never appears in a URL.
"""

from taskdaemond.ui.pages import install

__all__ = ["install"]
